"""Fixtures shared by the integration and end-to-end tests: a stack provisioned from template.yaml
on moto (in-process for speed; the e2e tests use the embedded moto server like `dispatch run`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.embedded import REGION


@pytest.fixture(autouse=True)
def _quiet_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An in-process moto account; every boto3 client of the project talks to it."""
    from moto import mock_aws

    from infra.moto_speedups import install
    from shared.aws import reset_clients
    from shared.campaign import reset_campaign_cache

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset_clients()
    reset_campaign_cache()
    install()
    with mock_aws():
        yield
    reset_clients()
    reset_campaign_cache()


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The whole stack of template.yaml, provisioned, with the functions' environment set."""
    from infra.provision import provision
    from infra.template import functions

    provisioned = provision("test", REGION, {"ConfigVersion": f"test-{os.getpid()}-{id(monkeypatch)}",
                                             "DueShards": "2"})
    for spec in functions(provisioned.template):
        for key, value in provisioned.environment(spec.environment).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLAIM_LEASE_SECONDS", "0")
    return provisioned


@pytest.fixture
def runtime(stack):  # type: ignore[no-untyped-def]
    """The local runtime over the provisioned stack (queues polled, handlers invoked in-process)."""
    from infra.runtime import LocalRuntime

    local = LocalRuntime(stack, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING", "CLAIM_LEASE_SECONDS": "0"})
    yield local
    local.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
