#!/bin/bash
# vigil-emulation: benign
# technique: T1070.002 Indicator Removal: Clear Linux or Mac System Logs
# tactic: defense-evasion
# what: a service starting up and logging: a Python program creates fresh log files under
#   /var/log/vigil-emul-svc/ (open with O_CREAT|O_TRUNC on files that do not exist yet),
#   writes to them, and rotates its own log with logging's RotatingFileHandler (rename
#   to .1 and a new empty file) several times.
# report: nothing: a program creating and rotating its own new logs.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

d=/var/log/vigil-emul-svc
emul_backup "$d"
mkdir -p "$d"
"$PY" - "$d" <<'PY'
import logging, logging.handlers, sys
d = sys.argv[1]
for name in ("startup.log", "audit-trail.log"):
    with open(f"{d}/{name}", "w") as fh:
        fh.write("service starting\n")
h = logging.handlers.RotatingFileHandler(f"{d}/service.log", maxBytes=4000, backupCount=3)
log = logging.getLogger("svc")
log.addHandler(h)
log.setLevel(logging.INFO)
for i in range(400):
    log.info("request %d served in %d ms", i, i % 37)
print("logged")
PY
ls "$d"
