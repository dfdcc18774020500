"""The vendor API on moto: list, download (presigned, 15 minutes) and acknowledge print batches,
and get the day's call list — what the print vendor and the call centre collect."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from functions.vendor_api.handler import handler
from shared.aws import client

NOW = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)


def request(method: str, path: str, at: datetime = NOW) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) request, as Lambda receives it behind IAM auth."""
    event = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "api.example"}, "isBase64Encoded": False, "body": None,
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "203.0.113.7"},
                           "timeEpoch": int(at.timestamp() * 1000), "stage": "$default",
                           "routeKey": f"{method} {path}"},
    }
    result: dict[str, Any] = handler(event, None)
    return result


def given_a_closed_batch(stack: Any, batch_id: str = "2026-03-09-partially-addressed") -> None:
    s3 = client("s3")
    body = b"piece_id,kind\r\np1,partially_addressed\r\n"
    s3.put_object(Bucket=stack.refs["PrintBucket"], Key=f"batches/{batch_id}.csv", Body=body)
    manifest = {"batch_id": batch_id, "kind": "partially_addressed", "pieces": 1, "sha256": "x" * 64,
                "created_at": "2026-03-09T17:00:00+01:00"}
    s3.put_object(Bucket=stack.refs["PrintBucket"], Key=f"batches/{batch_id}.manifest.json",
                  Body=json.dumps(manifest).encode())


def test_the_vendor_lists_ready_batches(stack: Any) -> None:
    given_a_closed_batch(stack)
    response = request("GET", "/print-batches")
    assert response["statusCode"] == 200
    batches = json.loads(response["body"])["batches"]
    assert [(b["batch_id"], b["pieces"], b["acknowledged_at"]) for b in batches] == [
        ("2026-03-09-partially-addressed", 1, None)]


def test_a_download_is_a_presigned_url_that_expires_within_15_minutes(stack: Any) -> None:
    given_a_closed_batch(stack)
    response = request("GET", "/print-batches/2026-03-09-partially-addressed")
    assert response["statusCode"] == 302
    url = response["headers"]["Location"]
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path.endswith("/batches/2026-03-09-partially-addressed.csv")
    assert int(query["X-Amz-Expires"][0]) <= 900


def test_acknowledging_twice_keeps_the_first_acknowledgement(stack: Any) -> None:
    given_a_closed_batch(stack)
    first = request("POST", "/print-batches/2026-03-09-partially-addressed/ack")
    again = request("POST", "/print-batches/2026-03-09-partially-addressed/ack",
                    at=datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    assert first["statusCode"] == again["statusCode"] == 200
    assert json.loads(first["body"])["acknowledged_at"] == json.loads(again["body"])["acknowledged_at"] == \
        NOW.isoformat()
    listed = json.loads(request("GET", "/print-batches")["body"])["batches"]
    assert listed[0]["acknowledged_at"] == NOW.isoformat()


def test_unknown_batches_and_days_are_404_and_paths_cannot_escape(stack: Any) -> None:
    given_a_closed_batch(stack)
    assert request("GET", "/print-batches/2026-01-01-personalised")["statusCode"] == 404
    assert request("POST", "/print-batches/..%2Fsecret/ack")["statusCode"] == 404
    assert request("GET", "/call-lists/2026-03-10")["statusCode"] == 404


def test_the_call_centre_gets_the_days_list(stack: Any) -> None:
    client("s3").put_object(Bucket=stack.refs["CallListBucket"], Key="call-lists/2026-03-10.csv",
                            Body="\ufeffcall_date;priority\r\n".encode())
    response = request("GET", "/call-lists/2026-03-10")
    assert response["statusCode"] == 302
    assert "call-lists/2026-03-10.csv" in response["headers"]["Location"]
