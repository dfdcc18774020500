"""Lambda entry point: API Gateway HTTP API (payload 2.0) GET/POST /unsubscribe?token=…"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from shared.handler import logger_for

logger = logger_for("unsubscribe")


def _token(event: dict[str, Any]) -> str | None:
    """From the query (the List-Unsubscribe URL), else from a form body (the confirmation page)."""
    query = event.get("queryStringParameters") or {}
    if query.get("token"):
        return str(query["token"])
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    return dict(parse_qsl(body)).get("token")


def _browser_language(event: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return str(headers.get("accept-language", "")).split(",")[0].split("-")[0].split(";")[0]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from functions.unsubscribe.logic import check, confirmation_page, customer_language, invalid_page, unsubscribe
    from shared.campaign import campaign
    from shared.channels.delivery import unsubscribe_secret
    from shared.settings import settings

    s = settings()
    request = event.get("requestContext", {})
    method = str(request.get("http", {}).get("method", "GET")).upper()
    now = datetime.fromtimestamp(int(request["timeEpoch"]) / 1000, UTC)
    token = _token(event)
    claim = check(unsubscribe_secret(s.unsubscribe_secret_arn), token, now)
    if claim is None or token is None:
        logger.info("unsubscribe refused", extra={"method": method})
        page = invalid_page(_browser_language(event))
    else:
        language = customer_language(s, claim) or _browser_language(event)
        page = (unsubscribe(s, campaign(), claim, now, language) if method == "POST"
                else confirmation_page(claim, token, language))
        logger.info("unsubscribe", extra={"method": method, "channel": claim.channel})
    return {"statusCode": page.status, "body": page.html,
            "headers": {"Content-Type": "text/html; charset=utf-8", "Content-Language": page.language,
                        "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}}
