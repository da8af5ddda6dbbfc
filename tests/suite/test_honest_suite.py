"""The suite cannot pass by skipping what matters (issue 14 item 14): under
`VIGIL_REQUIRE` (set by `make test`), a missing requirement stops the run at once and a
requirement's skip is a failure. Real pytest runs in a child process on generated tests
that use the suite's own hooks (tests/needs.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent

SAMPLE = '''
import pytest
from needs import BPF_SKIP, SHARED_SKIP, needs_shared, shared_path


def test_plain():
    pass


@needs_shared("rules", "falco", "falco_rules.yaml")
def test_reads_shared():
    assert shared_path("rules", "falco", "falco_rules.yaml").is_file()


def test_skips_for_bpf():
    pytest.skip(BPF_SKIP + "simulated: no libbpf")


def test_skips_for_shared():
    pytest.skip(SHARED_SKIP + "simulated")


def test_skips_for_another_reason():
    pytest.skip("no cgroup v2 here")
'''


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(
        "from needs import pytest_configure, pytest_runtest_makereport, "
        "pytest_sessionstart  # noqa: F401\n")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    full = {k: v for k, v in os.environ.items() if k not in ("VIGIL_REQUIRE", "VIGIL_SHARED")}
    full.update(env, PYTHONPATH=str(TESTS))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p",
                           "no:cacheprovider", str(tmp_path)], capture_output=True,
                          text=True, env=full, cwd=tmp_path, timeout=120)


def test_without_requirements_the_skips_stay_skips(tmp_path: Path) -> None:
    r = run(tmp_path)
    assert r.returncode == 0, r.stdout
    assert "2 passed, 3 skipped" in r.stdout


def test_required_skips_fail_and_other_skips_stay(tmp_path: Path) -> None:
    r = run(tmp_path, VIGIL_REQUIRE="bpf,shared")
    assert r.returncode == 1, r.stdout
    assert "2 failed, 2 passed, 1 skipped" in r.stdout
    assert "VIGIL_REQUIRE=bpf: this test must run here, but it was skipped: BPF not " \
           "available: simulated: no libbpf" in r.stdout
    assert "VIGIL_REQUIRE=shared: this test must run here" in r.stdout
    assert "SKIPPED [1] test_sample.py" in r.stdout and "no cgroup v2 here" in r.stdout


def test_missing_shared_data_stops_a_required_run_at_once(tmp_path: Path) -> None:
    missing = tmp_path / "no-shared"
    r = run(tmp_path, VIGIL_REQUIRE="shared", VIGIL_SHARED=str(missing))
    assert r.returncode == 1
    assert f"VIGIL_REQUIRE=shared: shared data missing under {missing}: " \
           "rules/falco/falco_rules.yaml" in r.stdout + r.stderr
    assert "passed" not in r.stdout
    r = run(tmp_path, VIGIL_SHARED=str(missing))
    assert r.returncode == 0 and "1 passed, 4 skipped" in r.stdout, r.stdout


def test_an_unknown_requirement_is_an_error(tmp_path: Path) -> None:
    r = run(tmp_path, VIGIL_REQUIRE="bfp")
    assert r.returncode == 1 and "unknown requirement(s) bfp" in r.stdout + r.stderr


def test_make_test_requires_bpf_and_shared() -> None:
    r = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True,
                       timeout=60, env={k: v for k, v in os.environ.items()
                                        if k != "VIGIL_REQUIRE"})
    assert r.returncode == 0, r.stderr
    [line] = [ln for ln in r.stdout.splitlines() if "-m pytest" in ln]
    assert line.startswith("VIGIL_REQUIRE=bpf,shared ")


def test_no_test_reads_the_shared_data_by_a_path_of_its_own() -> None:
    """Every test reaches ../shared through tests/needs.py (or the shared_dir fixture)."""
    offenders = []
    for f in TESTS.rglob("*.py"):
        if f.name in ("needs.py", "test_honest_suite.py"):
            continue
        text = f.read_text()
        if '"shared"' in text or "/work/shared" in text or "'shared'" in text:
            offenders.append(str(f.relative_to(TESTS)))
    assert offenders == []


def test_no_test_imports_a_conftest() -> None:
    """`import conftest` names whichever conftest.py was imported first (tests/faults has
    one): shared helpers live in modules of their own (tests/needs.py)."""
    offenders = [str(f.relative_to(TESTS)) for f in TESTS.rglob("*.py")
                 if f.name != "test_honest_suite.py"
                 and ("from conftest import" in f.read_text()
                      or "import conftest" in f.read_text())]
    assert offenders == []
