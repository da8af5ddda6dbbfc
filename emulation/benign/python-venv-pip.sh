#!/bin/bash
# vigil-emulation: benign
# technique: T1059.006 Command and Scripting Interpreter: Python
# tactic: execution
# what: a Python developer's loop: `python3 -m venv`, `pip install --no-index
#   --no-build-isolation` of a local package directory (setuptools builds a wheel,
#   compiles bytecode), running its console script and `python -m unittest`.
# report: nothing: pip building and installing a local package into a virtualenv.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

emul_tmpdir
cd "$EMUL_DIR"
"$PY" -m venv --system-site-packages venv || emul_skip "python3 -m venv does not work here (python3-venv)"
mkdir -p pkg/vigilemuldemo
cat >pkg/pyproject.toml <<'TOML'
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "vigilemuldemo"
version = "0.1"
[project.scripts]
vigilemuldemo = "vigilemuldemo:main"
TOML
printf 'def main():\n    print("demo ok")\n' >pkg/vigilemuldemo/__init__.py
printf 'import unittest, vigilemuldemo\nclass T(unittest.TestCase):\n    def test(self): vigilemuldemo.main()\n' >pkg/test_demo.py
PIP_DISABLE_PIP_VERSION_CHECK=1 venv/bin/pip install -q --no-index --no-build-isolation ./pkg 2>&1 | tail -2 ||
    emul_skip "no setuptools available offline"
venv/bin/vigilemuldemo
(cd pkg && ../venv/bin/python -m unittest -q test_demo 2>&1 | tail -1)
