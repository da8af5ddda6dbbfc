"""Rule tests: `vigil rules test SPEC.yaml...` (docs/rules.md, "Rule tests").

A spec file lists events (inline, in the event format of docs/events.md, or a JSONL
recording) and what must happen on them: which rules fire, which must not, with which
priority and output. Specs run through the same rule loading and detection pipeline as
the agent. Vigil's own default rules ship with specs (`vigil rules test builtin`).

- `spec.load_spec(path) -> RuleTestSpec`: read and check a spec (located errors);
- `runner.RuleTestRunner().run_file(path) -> SpecResult`;
- `report.text_report / json_report / exit_code`.
"""

from __future__ import annotations

from pathlib import Path

from vigil.config import BUILTIN_RULES

#: the specs of Vigil's default rules, shipped beside them
BUILTIN_SPECS_DIR = Path(__file__).resolve().parent.parent / "defaults" / "tests"


def spec_files(args: list[str]) -> tuple[list[Path], list[str]]:
    """The spec files named on the command line (a directory gives its `*.yaml`/`*.yml`,
    recursively, sorted; `builtin` the default rules' specs), and the arguments that name
    nothing."""
    files: list[Path] = []
    missing: list[str] = []
    for arg in args:
        p = BUILTIN_SPECS_DIR if arg == BUILTIN_RULES else Path(arg)
        if p.is_dir():
            found = sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml")
                           and x.is_file())
            if not found:
                missing.append(f"{arg}: no *.yaml spec files in this directory")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            missing.append(f"{arg}: no such file or directory")
    return list(dict.fromkeys(files)), missing
