#!/bin/bash
# vigil-emulation: benign
# technique: T1222.002 File and Directory Permissions Modification: Linux and Mac File and Directory Permissions Modification
# tactic: defense-evasion
# what: everyday git: init, config, add, 20 commits, clone, branch and merge, then
#   `git gc --aggressive`, `git repack -ad` and `git fsck` (git chmods its objects and
#   packs 0444 and hooks 0755 as it goes).
# report: nothing: git maintaining its repository.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need git

emul_tmpdir
cd "$EMUL_DIR"
export GIT_AUTHOR_NAME=dev GIT_AUTHOR_EMAIL=dev@example.invalid GIT_COMMITTER_NAME=dev GIT_COMMITTER_EMAIL=dev@example.invalid
git init -q proj
cd proj
git config core.autocrlf false
for i in $(seq 1 20); do echo "line $i" >>notes.txt; git add notes.txt; git commit -q -m "note $i"; done
cd ..
git clone -q proj copy
cd copy
git checkout -q -b feature
echo feature >feature.txt && git add feature.txt && git commit -q -m feature
git checkout -q - && git merge -q --no-edit feature
git gc -q --aggressive
git repack -q -ad
git fsck --no-progress 2>&1 | tail -1
git log --oneline | wc -l
