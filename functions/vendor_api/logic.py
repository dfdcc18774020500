"""The vendor API: the print vendor lists, downloads and acknowledges batches; the call centre gets
the day's call list. IAM-authenticated HTTP API routes; downloads are 15-minute presigned URLs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from shared.deliverables import DeliverableStore, NotFound

app = APIGatewayHttpResolver()
_store: dict[str, DeliverableStore] = {}


def use_store(store: DeliverableStore) -> None:
    _store["current"] = store


def _now() -> datetime:
    epoch_ms = app.current_event.request_context.time_epoch
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _redirect(find: Callable[[str], str], name: str) -> Response[Any]:
    """A redirect to where the store keeps it; 404 when it has no such thing."""
    try:
        url = find(name)
    except NotFound as exc:
        raise NotFoundError(str(exc)) from exc
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"}, body="")


@app.get("/print-batches")
def list_batches() -> dict[str, Any]:
    return {"batches": [b.as_dict() for b in _store["current"].batches()]}


@app.get("/print-batches/<batch_id>")
def download_batch(batch_id: str) -> Response[Any]:
    return _redirect(_store["current"].batch_download, batch_id)


@app.post("/print-batches/<batch_id>/ack")
def acknowledge_batch(batch_id: str) -> dict[str, Any]:
    try:
        return _store["current"].acknowledge(batch_id, _now()).as_dict()
    except NotFound as exc:
        raise NotFoundError(str(exc)) from exc


@app.get("/call-lists/<day>")
def download_call_list(day: str) -> Response[Any]:
    return _redirect(_store["current"].call_list, day)
