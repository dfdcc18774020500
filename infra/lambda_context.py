"""The Lambda context object, as far as Powertools reads it: for the local runtime, the bench's
first-invocation probe and the tests. Imports nothing heavy (the probe times what comes after it)."""

from __future__ import annotations

import uuid


class LambdaContext:
    def __init__(self, function_name: str, region: str = "local", request_id: str | None = None) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.aws_request_id = request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 300_000
