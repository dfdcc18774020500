"""`dispatch print-batches list|download|ack` and `dispatch call-list get`: the vendor's and the call
centre's side, on a run's output folder or on a deployed stack's buckets."""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.deliverables import DeliverableStore, FolderDeliverables, S3Deliverables


def add_commands(sub: Any) -> None:
    batches = sub.add_parser("print-batches", help="print batches for the vendor: list, download, acknowledge")
    actions = batches.add_subparsers(dest="action", required=True)
    for name, text in (("list", "batches ready for collection"), ("download", "a batch's CSV"),
                       ("ack", "acknowledge collection (idempotent)")):
        action = actions.add_parser(name, help=text)
        if name != "list":
            action.add_argument("batch_id")
        if name == "download":
            action.add_argument("--to", type=Path, help="copy the CSV here (output folder only)")
        _where(action)
    calls = sub.add_parser("call-list", help="the call centre's daily list")
    call_actions = calls.add_subparsers(dest="action", required=True)
    get = call_actions.add_parser("get", help="the call list of a day")
    get.add_argument("--date", required=True, help="YYYY-MM-DD")
    get.add_argument("--to", type=Path, help="copy the CSV here (output folder only)")
    _where(get)


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out"), help="a run's output folder (default out/)")
    parser.add_argument("--endpoint-url", help="a deployed stack's AWS endpoint (omit for AWS itself)")
    parser.add_argument("--print-bucket", help="the stack's PrintBucketName output: use the deployed stack")
    parser.add_argument("--call-list-bucket", help="the stack's CallListBucketName output")


def _store(args: argparse.Namespace) -> DeliverableStore:
    if args.print_bucket or args.call_list_bucket:
        from infra.embedded import use_endpoint

        if args.endpoint_url:
            use_endpoint(args.endpoint_url)
        return S3Deliverables(args.print_bucket or "", args.call_list_bucket or "")
    if not args.out.is_dir():
        raise FileNotFoundError(f"{args.out}: no run output folder here")
    return FolderDeliverables(args.out)


def print_batches(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "list":
        rows = store.batches()
        for b in rows:
            state = f"collected {b.acknowledged_at}" if b.acknowledged_at else "ready"
            print(f"{b.batch_id:<36} {b.kind:<20} {b.pieces:>6} pieces  {state}")
        print(f"{len(rows)} batches, {sum(1 for b in rows if not b.acknowledged_at)} ready")
    elif args.action == "download":
        print(_deliver(store.batch_download(args.batch_id), args.to))
    else:
        print(json.dumps(store.acknowledge(args.batch_id, datetime.now(UTC)).as_dict()))
    return 0


def call_list(args: argparse.Namespace) -> int:
    print(_deliver(_store(args).call_list(args.date), args.to))
    return 0


def _deliver(location: str, to: Path | None) -> str:
    """A presigned URL is printed as it is; a local file is copied when asked to."""
    if to is None or location.startswith("http"):
        return location
    target = to / Path(location).name if to.is_dir() else to
    shutil.copyfile(location, target)
    return str(target)
