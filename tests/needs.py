"""What tests need from the machine, and how the suite says so honestly.

Some tests need the kernel to load BPF programs (root, BTF, the built object, libbpf),
some need the project's shared data (`../shared`: Falco and SigmaHQ rules, conformance
cases, CrowdSec fixtures). Where those are missing such tests skip, with a reason that
starts with `BPF not available: ` or `shared data missing: `.

On a machine that must have them, a skip is a lie: `VIGIL_REQUIRE=bpf,shared` (set by
`make test`, hence CI) turns those skips into failures, and the run stops at once when a
requirement is missing (`pytest_sessionstart`). The hooks below are installed by
tests/conftest.py.

`VIGIL_SHARED` points to the shared data when it is not `../shared` beside the repository;
every test reads it through `SHARED` / `shared_path()` (or the `shared_dir` fixture), never
through a path of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BPF_SKIP = "BPF not available: "
SHARED_SKIP = "shared data missing: "
#: requirement name -> the prefix of the skip reasons it turns into failures
_PREFIXES = {"bpf": BPF_SKIP, "shared": SHARED_SKIP}

SHARED = Path(os.environ.get("VIGIL_SHARED")
              or Path(__file__).resolve().parents[1].parent / "shared")
#: what the suite reads from the shared data (checked at the start under VIGIL_REQUIRE)
SHARED_PARTS = ("rules/falco/falco_rules.yaml", "rules/falco/falco-incubating_rules.yaml",
                "rules/falco/falco-sandbox_rules.yaml", "rules/sigma/linux",
                "conformance/falco/filter_parser_cases.json",
                "conformance/falco/rule_loader_cases.json", "fixtures/ssh/crowdsec")


def required() -> frozenset[str]:
    """The requirements named in `VIGIL_REQUIRE` (comma-separated: `bpf`, `shared`)."""
    return frozenset(p.strip() for p in os.environ.get("VIGIL_REQUIRE", "").split(",")
                     if p.strip())


def shared_path(*parts: str) -> Path:
    """A path in the shared data (it may not exist: mark the test `requires_shared`)."""
    return SHARED.joinpath(*parts)


def requires_shared(*parts: str) -> list[pytest.MarkDecorator]:
    """Marks for a test (or `pytestmark`) that reads `shared_path(*parts)`."""
    path = shared_path(*parts)
    return [pytest.mark.shared,
            pytest.mark.skipif(not path.exists(), reason=f"{SHARED_SKIP}{path}")]


def needs_shared(*parts: str):  # noqa: ANN201 (a decorator)
    """`requires_shared` as one decorator, for a single test."""
    marks = requires_shared(*parts)

    def apply(test):  # noqa: ANN001, ANN202
        for mark in marks:
            test = mark(test)
        return test
    return apply


def bpf_reason() -> str | None:
    """Why BPF programs cannot run here, or None."""
    from vigil.sensors.ebpf.sensor import unavailable_reason
    return unavailable_reason()


BPF_REASON = bpf_reason()
#: marks for a test that loads the real BPF program
requires_bpf = [pytest.mark.bpf,
                pytest.mark.skipif(BPF_REASON is not None, reason=f"{BPF_SKIP}{BPF_REASON}")]


# -- hooks (installed by tests/conftest.py) -------------------------------------------------

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared: reads the project's shared data (../shared)")
    config.addinivalue_line("markers", "bpf: needs root and a kernel that loads BPF programs")


def pytest_sessionstart(session: pytest.Session) -> None:
    need = required()
    problems = []
    if "shared" in need:
        missing = [p for p in SHARED_PARTS if not shared_path(p).exists()]
        if missing:
            problems.append(f"shared data missing under {SHARED}: {', '.join(missing)}")
    if "bpf" in need and BPF_REASON is not None:
        problems.append(f"BPF not available: {BPF_REASON}")
    unknown = need - set(_PREFIXES)
    if unknown:
        problems.append(f"unknown requirement(s) {', '.join(sorted(unknown))} (known: "
                        f"{', '.join(sorted(_PREFIXES))})")
    if problems:
        pytest.exit(f"VIGIL_REQUIRE={','.join(sorted(need))}: " + "; ".join(problems),
                    returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or hasattr(rep, "wasxfail"):
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    reason = reason.removeprefix("Skipped: ")
    for need in required():
        prefix = _PREFIXES.get(need)
        if prefix is not None and reason.startswith(prefix):
            rep.outcome = "failed"
            rep.longrepr = (f"VIGIL_REQUIRE={need}: this test must run here, but it was "
                            f"skipped: {reason}")
            return
