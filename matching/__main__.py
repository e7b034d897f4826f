"""Command line: solve, greedy baseline and independent check of matching instances."""

from __future__ import annotations

import argparse
import json
import sys

from . import InstanceError, SolverError, check, greedy, load_instance, solve


def _read_json(path: str, what: str):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise SystemExit(f"error: cannot read {what} {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"error: {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _write(obj, out: str | None) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=1)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        print(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m matching", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, helptext in (
        ("solve", "optimal matching with a proven bound"),
        ("greedy", "nearest-compatible greedy baseline"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("instance")
        p.add_argument("--out", help="result file (default: standard output)")
        p.add_argument("--quiet", action="store_true", help="no progress on standard error")
    p = sub.add_parser("check", help="verify a result independently")
    p.add_argument("instance")
    p.add_argument("result")
    p.add_argument("--no-lp", action="store_true", help="skip the independent LP optimum")
    args = ap.parse_args(argv)

    data = _read_json(args.instance, "instance")
    try:
        inst = load_instance(data)
    except InstanceError as exc:
        for e in exc.errors:
            print(f"error: {e}", file=sys.stderr)
        return 2
    if args.cmd == "check":
        report = check(data, _read_json(args.result, "result"), lp=not args.no_lp)
        print(json.dumps(report.to_dict(), indent=1))
        return 0 if report.ok else 1

    def progress(stage: str, fraction: float) -> None:
        if not args.quiet:
            print(f"{stage} {fraction:4.0%}", file=sys.stderr)

    try:
        res = solve(inst, progress=progress) if args.cmd == "solve" else greedy(inst)
    except SolverError as exc:
        print(f"error: solver failed: {exc}", file=sys.stderr)
        return 3
    _write(res.to_dict(), args.out)
    if not args.quiet:
        print(
            f"{res.status}: net benefit {res.net_benefit:,.2f} yen, "
            f"bound {res.upper_bound if res.upper_bound is not None else '-'}, "
            f"{len(res.flows)} flows",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
