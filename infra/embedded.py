"""The embedded AWS endpoint: moto's threaded server on 127.0.0.1, on a free port."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

REGION = "eu-central-2"


def use_endpoint(url: str | None, region: str = REGION) -> None:
    """Point every boto3 client of this process at `url` (None: the real AWS)."""
    from shared.aws import reset_clients

    if url:
        os.environ["AWS_ENDPOINT_URL"] = url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["AWS_DEFAULT_REGION"] = region
    reset_clients()


@contextmanager
def embedded_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from infra.moto_speedups import install

    install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def localstack_endpoint() -> str:
    """LocalStack's edge URL as `localstack-client` knows it (honours LOCALSTACK_HOST)."""
    import localstack_client.config

    return str(localstack_client.config.get_service_endpoint("sqs"))
