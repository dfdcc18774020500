"""The `dispatch` command: demo, run, explain, report, erase, print-batches, call-list, dlq."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def _iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r}: expected ISO 8601 with an offset or Z")
    return parsed


def _extract(value: str) -> tuple[Path, datetime | None]:
    """A CRM extract: FILE, or FILE@ISO8601 — the instant it enters the run."""
    path, at, when = value.rpartition("@")
    if not at or "/" in when or "\\" in when:
        return Path(value), None
    try:
        return Path(path), _iso(when)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r}: expected FILE or FILE@ISO8601 (with an offset or Z)") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dispatch", description="Rollout-triggered cross-channel fibre marketing.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="a synthetic town through the whole pipeline on the embedded AWS stack")
    demo.add_argument("--households", type=int, default=200)
    demo.add_argument("--days", type=int, default=120)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--out", type=Path, default=Path("out"))
    _chaos_arguments(demo)

    run = sub.add_parser("run", help="replay input files through the deployed pipeline on a simulated clock")
    run.add_argument("--customers", type=_extract, action="append", required=True, metavar="FILE[@ISO8601]",
                     help="a full CRM extract; given again, each later one enters at its time and supersedes "
                     "the one before")
    run.add_argument("--feed", type=Path, required=True)
    run.add_argument("--responses", type=Path)
    run.add_argument("--config", type=Path)
    run.add_argument("--offers", type=Path)
    run.add_argument("--start", type=_iso)
    run.add_argument("--days", type=int, default=120)
    run.add_argument("--out", type=Path, default=Path("out"))
    run.add_argument("--endpoint-url", help="an AWS endpoint to provision and run on (a moto server, LocalStack); "
                     "'localstack' takes LocalStack's URL from localstack-client")
    run.add_argument("--stack-name", help="with --endpoint-url: the name of the stack provisioned there, which "
                     "stays for `dispatch explain|report|erase|dlq --stack-name` (default channel-dispatch)")
    run.add_argument("--seed", type=int, default=0)
    _chaos_arguments(run)

    explain = sub.add_parser("explain", help="one household's whole story from a run's output or a stack")
    explain.add_argument("household_id")
    source = explain.add_mutually_exclusive_group()
    source.add_argument("--out", type=Path, help="a run's output folder (default out/)")
    source.add_argument("--stack-name", help="read the live tables of this stack instead (by household, no scan)")
    explain.add_argument("--endpoint-url", help="with --stack-name: the stack's endpoint (moto server, LocalStack; "
                         "omit for AWS)")

    report = sub.add_parser("report", help="the campaign report from a run's output or a stack's lake")
    report.add_argument("--out", type=Path, default=Path("out"),
                        help="a run's output folder; with --stack-name: where report.json and report.html go")
    report.add_argument("--stack-name", help="the report of this deployed stack, by SQL over its contact-history "
                        "lake (Athena in AWS; DuckDB over the lake's files with --endpoint-url)")
    report.add_argument("--endpoint-url", help="with --stack-name: the stack's endpoint (moto server, LocalStack; "
                        "omit for AWS)")

    erase = sub.add_parser("erase", help="remove one customer's personal data; never contact them again")
    erase.add_argument("--customer", required=True, help="the customer_id to erase")
    erase.add_argument("--out", type=Path, default=Path("out"), help="a run's output folder (without --stack-name)")
    erase.add_argument("--endpoint-url", help="the endpoint of a deployed stack (moto server, LocalStack)")
    erase.add_argument("--stack-name", help="erase from this deployed stack instead of an output folder")

    bench = sub.add_parser("bench", help="households to first contact on the embedded stack, measured")
    bench.add_argument("--households", type=int, default=300)
    bench.add_argument("--feed-rows", type=int, default=1_000_000, help="rows of the streamed feed validation")
    bench.add_argument("--plan-households", type=int, metavar="N",
                       help="instead: plan a generated rollout plan of N households, measured beside a replay")
    bench.add_argument("--report-rows", type=int, metavar="N",
                       help="instead: the report on a generated lake of N contacts (DuckDB), timed, peak memory")
    bench.add_argument("--report-lake", type=Path, metavar="DIR",
                       help="with --report-rows: keep the generated lake in DIR, and reuse the one of N contacts "
                       "already there (default: a temporary folder, removed after)")
    bench.add_argument("--write", type=Path, help="also write the figures into this Markdown page "
                       "(docs/performance.md), with their explanation and the capacity note")

    from infra.deliverables_cli import add_commands

    add_commands(sub)
    from infra.dlq import add_commands as add_dlq_commands

    add_dlq_commands(sub)
    from infra.plan_cli import add_commands as add_plan_commands

    add_plan_commands(sub)
    return parser


def _rate(value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a fault rate between 0 and 1")
    return rate


def _chaos_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chaos", type=_rate, default=0.0, metavar="RATE",
                        help="inject faults at this rate, reproducibly from --seed (infra/chaos.py)")
    parser.add_argument("--compare", action="store_true",
                        help="with --chaos: run without faults too (into OUT/fault-free) and compare the contacts")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(_COMMANDS[args.command](args))
    except _USER_ERRORS as exc:
        print(f"dispatch {args.command}: {exc}", file=sys.stderr)
        return 2


def _demo(args: argparse.Namespace) -> int:
    from infra.demo_town import make_town
    from infra.pipeline import RunInputs

    town = make_town(args.out / "input", households=args.households, days=args.days, seed=args.seed)
    print(f"synthetic town: {args.households} households, {args.days} days, seed {args.seed} -> {args.out / 'input'}")
    return _run_and_summarise(RunInputs(customers=town.customers, feed=town.rollout, responses=town.responses,
                                        days=args.days, out=args.out, seed=args.seed, chaos=args.chaos,
                                        compare=args.compare))


def _run(args: argparse.Namespace) -> int:
    from infra.pipeline import RunInputs
    from shared.inputs import InputFileError

    if args.stack_name and not args.endpoint_url:
        raise UsageError("--stack-name needs --endpoint-url (the embedded endpoint ends with the run)")
    if args.stack_name and args.compare:
        raise UsageError("--stack-name does not go with --compare (its two runs provision stacks of their own)")
    (first, first_at), *later = args.customers
    if any(at is None for _, at in later):
        raise InputFileError("--customers", 0, "every CRM extract after the first needs its time: FILE@ISO8601")
    return _run_and_summarise(RunInputs(
        customers=first, customers_at=first_at, later_customers=tuple((p, at) for p, at in later if at),
        feed=args.feed, responses=args.responses, config=args.config, offers=args.offers,
        start=args.start, days=args.days, out=args.out, endpoint_url=args.endpoint_url, stack_name=args.stack_name,
        seed=args.seed, chaos=args.chaos, compare=args.compare))


def _run_and_summarise(inputs: Any) -> int:
    from infra.pipeline import run
    from shared.report import write_report
    from shared.report.table import render_table

    result = run(inputs, progress=_progress())
    report = write_report(result.out)
    print(f"run {result.start.isoformat()} .. {result.end.isoformat()} in {result.seconds:.1f} s: "
          f"{result.messages} messages, {sum(result.invocations.values())} invocations")
    print(f"contacts {result.counts['contacts']}, decisions {result.counts['decisions']}, "
          f"rejected rows {result.counts['rejected']}, print batches {result.counts['print_batches'] // 2}, "
          f"call lists {result.counts['call_lists']}, ambiguous claims {result.counts['ambiguous']}")
    for error in result.errors[:5]:
        print(f"handler error: {error}")
    print(render_table(report))
    print(f"output: {result.out.resolve()}")
    for line in result.summary:  # with --chaos: faults, ambiguous claims, DLQs, rules, the comparison
        print(line)
    return _dlq_verdict(result.dlq, 0 if result.ok else 1)


EXIT_DLQ = 3  # contract: a run that ends with messages in a dead-letter queue


def _dlq_verdict(depths: dict[str, int], status: int) -> int:
    """Print every dead-letter queue's depth; EXIT_DLQ when any message was left in one, else `status`."""
    left = sum(depths.values())
    print("DLQ depths at the end: " + ", ".join(f"{queue} {depth}" for queue, depth in sorted(depths.items()))
          + (f" -- {left} message(s) left unprocessed, see `dispatch dlq`" if left else " (all empty)"))
    return EXIT_DLQ if left else status


def _progress() -> Any:
    """A line on stderr per simulated week, so a long replay shows it is alive."""
    shown: list[str] = []

    def report(at: datetime, end: datetime) -> None:
        week = at.strftime("%G-W%V")
        if not shown or shown[-1] != week:
            shown.append(week)
            print(f"  simulated {at.date().isoformat()} ({week}), until {end.date().isoformat()}", file=sys.stderr)

    return report


def _explain(args: argparse.Namespace) -> int:
    from infra.explain import explain, explain_stack

    if args.stack_name:
        if args.endpoint_url:
            from infra.embedded import use_endpoint

            use_endpoint(args.endpoint_url)
        print(explain_stack(args.stack_name, args.household_id))
        return 0
    if args.endpoint_url:
        raise UsageError("--endpoint-url needs --stack-name (the deployed stack's name)")
    print(explain(args.out or Path("out"), args.household_id))
    return 0


def _report(args: argparse.Namespace) -> int:
    from shared.report import write_report
    from shared.report.table import render_table

    if args.stack_name:
        from infra.report_cli import report_from_stack

        if args.endpoint_url:
            from infra.embedded import use_endpoint

            use_endpoint(args.endpoint_url)
        report, link = report_from_stack(args.stack_name, args.out, "duckdb" if args.endpoint_url else "athena")
        print(render_table(report))
        print(f"written: {args.out / 'report.json'}, {args.out / 'report.html'}")
        print(f"latest scheduled report: {link}" if link else "no scheduled report written yet")
        return 0
    if args.endpoint_url:
        raise UsageError("--endpoint-url needs --stack-name (the deployed stack's name)")
    if not (args.out / "contact-history.jsonl").is_file():
        raise FileNotFoundError(f"{args.out}: no run output here (contact-history.jsonl missing)")
    print(render_table(write_report(args.out)))
    print(f"written: {args.out / 'report.json'}, {args.out / 'report.html'}")
    return 0


def _erase(args: argparse.Namespace) -> int:
    from infra.erase import erase_from_output, erase_from_stack

    if args.endpoint_url or args.stack_name:
        if not args.stack_name:
            print("dispatch erase: --endpoint-url needs --stack-name (the deployed stack's name)", file=sys.stderr)
            return 2
        if args.endpoint_url:
            from infra.embedded import use_endpoint

            use_endpoint(args.endpoint_url)
        report = erase_from_stack(args.stack_name, args.customer)
    else:
        report = erase_from_output(args.out, args.customer)
    print(report.summary())
    return 0


class UsageError(Exception):
    """Arguments that do not go together: a one-line message."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from infra.explain import UnknownHousehold, UnknownStack
    from infra.provision import StackExists
    from shared.config import ConfigError
    from shared.deliverables import NotFound
    from shared.erasure import UnknownCustomer
    from shared.inputs import InputFileError
    from shared.offers import OffersError
    from shared.plan.rates import RatesError

    return (InputFileError, ConfigError, OffersError, RatesError, FileNotFoundError, UnknownHousehold,
            UnknownCustomer, NotFound, UnknownStack, StackExists, UsageError)


def _print_batches(args: argparse.Namespace) -> int:
    from infra.deliverables_cli import print_batches

    return print_batches(args)


def _call_list(args: argparse.Namespace) -> int:
    from infra.deliverables_cli import call_list

    return call_list(args)


def _plan(args: argparse.Namespace) -> int:
    from infra.plan_cli import plan_command

    return plan_command(args)


def _preview(args: argparse.Namespace) -> int:
    from infra.plan_cli import preview_command

    return preview_command(args)


def _dlq(args: argparse.Namespace) -> int:
    from infra.dlq import command

    return command(args)


def _bench(args: argparse.Namespace) -> int:
    from infra.bench import bench

    if args.report_rows:
        from infra.report_bench import report_bench

        print(report_bench(args.report_rows, write=args.write, lake_dir=args.report_lake))
        return 0
    if args.plan_households:
        from infra.plan_bench import plan_bench

        print(plan_bench(args.plan_households))
        return 0
    print(bench(args.households, args.feed_rows, write=args.write))
    return 0


_COMMANDS = {"bench": _bench, "demo": _demo, "run": _run, "explain": _explain, "report": _report, "erase": _erase,
             "print-batches": _print_batches, "call-list": _call_list, "dlq": _dlq, "plan": _plan,
             "preview": _preview}
_USER_ERRORS = _user_errors()

if __name__ == "__main__":
    sys.exit(main())
