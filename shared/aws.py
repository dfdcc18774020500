"""boto3 clients, created on first use and shared by every handler in the process.

The endpoint comes from the environment (`AWS_ENDPOINT_URL`), so the same code talks to AWS,
moto or LocalStack unchanged; the cache is keyed on it because the local runtime may point a
process at a new endpoint between runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}
_hooks: list[Callable[[Any], None]] = []
_boto_session: Any = None


def client(service: str) -> Any:
    key = (service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            from botocore.config import Config

            # Streams by the regional endpoint: the account-based one (botocore's default for a call naming a
            # stream ARN) is one the emulator does not answer, and it is only a routing optimisation in AWS.
            extra = {"account_id_endpoint_mode": "disabled"} if service == "dynamodbstreams" else {}
            config = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=32, **extra)
            created = _session().client(service, config=config)
            for hook in _hooks:
                hook(created)
            _clients[key] = created
        return _clients[key]


def _session() -> Any:
    """One boto3 session per process: it loads the service models once, not once per client."""
    global _boto_session
    if _boto_session is None:
        import boto3

        _boto_session = boto3.session.Session()
    return _boto_session


def reset_clients() -> None:
    """Forget every client (the local runtime calls this when it switches endpoints)."""
    with _lock:
        _clients.clear()  # the session stays: region and endpoint are read again for each new client


def add_client_hook(hook: Callable[[Any], None]) -> None:
    """Run `hook` on every client created from now on (request counting, fault injection)."""
    with _lock:
        _hooks.append(hook)
        _clients.clear()


def remove_client_hook(hook: Callable[[Any], None]) -> None:
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)
        _clients.clear()


def read_object(bucket: str, key: str) -> bytes | None:
    """An S3 object's bytes, or None when there is no such object (a missing config, an extract not held)."""
    from botocore.exceptions import ClientError

    try:
        body: bytes = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return body
