#!/bin/bash
# vigil-emulation: benign
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell; T1105 Ingress Tool Transfer
# tactic: execution, command-and-control
# what: a CI job as a runner executes it: `git clone` of a local bare repository, then the
#   job script fed to `bash -e` on stdin (GitLab runner style): make, a shell test script
#   that runs a Python unittest and sh -c checks, and an artifact tarball.
# report: nothing: a CI runner building and testing a checkout.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need git make gcc

emul_tmpdir
cd "$EMUL_DIR"
export GIT_AUTHOR_NAME=ci GIT_AUTHOR_EMAIL=ci@example.invalid GIT_COMMITTER_NAME=ci GIT_COMMITTER_EMAIL=ci@example.invalid
git init -q src
cd src
printf 'int main(void){return 0;}\n' >main.c
printf 'all:\n\tcc -o app main.c\n' >Makefile
printf 'import unittest\nclass T(unittest.TestCase):\n    def test_ok(self): self.assertTrue(True)\n' >test_app.py
printf '#!/bin/sh\nset -e\n./app\n%s -m unittest -q test_app 2>&1 | tail -1\nsh -c "test -x app"\n' "$PY" >run-tests.sh
chmod +x run-tests.sh
git add -A && git commit -q -m "initial"
cd ..
git clone -q --bare src origin.git
git clone -q "file://$EMUL_DIR/origin.git" build
cd build
bash -e <<'JOB'
echo "job: build"
make -s
echo "job: test"
./run-tests.sh
echo "job: artifacts"
tar czf ../artifacts.tgz app
JOB
