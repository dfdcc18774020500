"""Offline template checks for `make test`: the SAM template translates to CloudFormation."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

from infra.template import default_template_path


class _NoManagedPolicies:
    """The translator asks IAM for AWS managed policies; offline there are none to look up."""

    def load(self) -> dict[str, str]:
        return {}


def translate(path: Path | None = None) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml
    from samtranslator.translator.transform import transform

    template = json.loads(json.dumps(cfn_yaml.load(str(path or default_template_path())), default=str))
    template = copy.deepcopy(template)
    # What `sam build` and `sam deploy` put in place of the local folders: the uploaded zips.
    template["Globals"]["Function"]["CodeUri"] = "s3://channel-dispatch-artifacts/code.zip"
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.get("Properties", {}).pop("CodeUri", None)
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://channel-dispatch-artifacts/layer.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-2")
    parameters = {"AWS::Region": "eu-central-2", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    return transform(template, parameters, _NoManagedPolicies())  # type: ignore[no-any-return]


def main() -> int:
    from samtranslator.model.exceptions import InvalidDocumentException

    try:
        translated = translate()
    except InvalidDocumentException as exc:
        for cause in exc.causes:
            print(f"template.yaml: {cause.message}", file=sys.stderr)
        return 1
    kinds: dict[str, int] = {}
    for resource in translated["Resources"].values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    print("template.yaml translates offline: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
