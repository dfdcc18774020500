"""Lambda entry point: the daily report, by SQL over the contact-history lake, into the reports bucket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.handler import lambda_handler
from shared.settings import settings


def write_daily_report(now: datetime) -> dict[str, Any]:
    from shared.campaign import campaign
    from shared.report.stack import write_stack_report

    return write_stack_report(settings(), campaign(), now)


handler = lambda_handler("report", tasks={"report": write_daily_report})
