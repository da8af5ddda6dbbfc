"""`python -m emulate` (what `make emulate` runs).

    python -m emulate                 run everything, write the scorecard and docs/detection.md
    python -m emulate --list          list the scenarios and their headers
    python -m emulate --only 'exec-*' run some scenarios (docs/detection.md is left alone)
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path

from emulate.custodian import restore_pending
from emulate.report_md import render_markdown
from emulate.runner import Runner, RunnerOptions, default_vigil
from emulate.scenario import HeaderError, Scenario, discover
from emulate.scorecard import render_text

ROOT = Path(__file__).resolve().parents[1]
REPO = ROOT.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m emulate",
                                description="Run Vigil's emulation suite and score the agent.")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only these scenarios (name or glob; repeatable, comma-separated)")
    p.add_argument("--kind", choices=("attack", "benign"), help="run only this kind")
    p.add_argument("--json-out", type=Path, metavar="PATH",
                   help="scorecard JSON (default: emulation/results/scorecard.json for a "
                        "full run, the run directory otherwise)")
    p.add_argument("--docs", type=Path, metavar="PATH",
                   help="Markdown scorecard (default: docs/detection.md for a full run only)")
    p.add_argument("--no-docs", action="store_true", help="do not write the Markdown page")
    p.add_argument("--run-dir", type=Path, metavar="DIR",
                   help="scenario logs and the agent's raw output (default: "
                        "build/emulation/<time>)")
    p.add_argument("--vigil", metavar="CMD",
                   help="the agent command (default: .venv/bin/vigil of this checkout)")
    p.add_argument("--no-agent", action="store_true",
                   help="run the scenarios without an agent (to develop scenarios; nothing "
                        "is judged as detected)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="per-scenario timeout instead of each header's")
    p.add_argument("--grace", type=float, default=1.5, metavar="S",
                   help="wait after each scenario before looking for quiet (default 1.5)")
    p.add_argument("--quiet", type=float, default=1.5, metavar="S",
                   help="the agent must print nothing this long before the next scenario "
                        "(default 1.5)")
    p.add_argument("--gap", type=float, default=11.0, metavar="S",
                   help="pause after a scenario the agent reported on or that had files "
                        "restored (default 11: longer than the agent's 10 s target window, "
                        "so the next scenario's detections do not join its incidents)")
    p.add_argument("--no-clean-check", action="store_true",
                   help="skip the before/after snapshots of /etc and friends")
    p.add_argument("--restore", type=Path, metavar="RUN_DIR",
                   help="finish the restores of a run that was killed, then exit")
    return p.parse_args(argv)


def select(scenarios: list[Scenario], only: list[str], kind: str | None) -> list[Scenario]:
    """The scenarios named by `--only` patterns (all when none) of `kind` (any when None)."""
    patterns = [x.strip() for item in only for x in item.split(",") if x.strip()]
    out = []
    for sc in scenarios:
        if kind is not None and sc.kind != kind:
            continue
        if patterns and not any(fnmatch.fnmatchcase(sc.name, pat) for pat in patterns):
            continue
        out.append(sc)
    return out


def list_scenarios(scenarios: list[Scenario]) -> str:
    """One line per scenario: kind, name, tactics, techniques, expectation."""
    lines = []
    for sc in scenarios:
        tech = ", ".join(t.id for t in sc.techniques)
        expect = " | ".join(sc.expect) if sc.expect else "none"
        lines.append(f"{sc.kind:6} {sc.name:<38} {','.join(sc.tactics):<34} {tech:<22} "
                     f"expect: {expect}")
    n_att = sum(s.is_attack for s in scenarios)
    lines.append(f"{n_att} attacks, {len(scenarios) - n_att} benign")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 even when acceptance is not met: the
    scorecard is the result; 2 for usage errors and broken scenario headers)."""
    args = parse_args(argv)
    if args.restore is not None:
        problems = restore_pending(args.restore / "custodian")
        for p in problems:
            print(f"emulate: {p}", file=sys.stderr)
        print(f"emulate: restored what {args.restore} had pending")
        return 1 if problems else 0
    try:
        scenarios = discover(ROOT)
    except HeaderError as exc:
        print(f"emulate: {exc}", file=sys.stderr)
        return 2
    chosen = select(scenarios, args.only, args.kind)
    if args.list:
        print(list_scenarios(chosen))
        return 0
    if not chosen:
        print("emulate: no scenario matches", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("emulate: the scenarios and the agent need root", file=sys.stderr)
        return 2
    partial = len(chosen) != len(scenarios)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = args.run_dir or REPO / "build" / "emulation" / stamp
    vigil = shlex.split(args.vigil) if args.vigil else default_vigil(REPO)
    opts = RunnerOptions(root=ROOT, run_dir=run_dir, vigil=vigil,
                         with_agent=not args.no_agent, grace=args.grace, quiet=args.quiet,
                         join_gap=args.gap,
                         timeout=args.timeout, check_clean=not args.no_clean_check)
    print(f"emulate: {len(chosen)} scenarios; logs and raw agent output in {run_dir}",
          flush=True)
    try:
        card = Runner(opts).run(chosen, partial)
    except RuntimeError as exc:
        print(f"emulate: {exc}", file=sys.stderr)
        return 1
    print()
    print(render_text(card), end="")
    full = not partial and not args.no_agent
    json_out = args.json_out or (ROOT / "results" / "scorecard.json" if full
                                 else run_dir / "scorecard.json")
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(card.to_json())
    print(f"scorecard JSON: {json_out}")
    docs = args.docs or (REPO / "docs" / "detection.md" if full else None)
    if docs is not None and not args.no_docs:
        docs.write_text(render_markdown(card))
        print(f"scorecard page: {docs}")
    return 0
