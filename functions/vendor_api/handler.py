"""Lambda entry point: the print vendor's and call centre's HTTP API (IAM-authenticated)."""

from __future__ import annotations

from typing import Any

from shared.settings import settings


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from functions.vendor_api.logic import app, use_store
    from shared.deliverables import S3Deliverables

    s = settings()
    use_store(S3Deliverables(s.print_bucket, s.call_list_bucket))
    return dict(app.resolve(event, context))
