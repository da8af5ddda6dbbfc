"""Starts a scenario detached from the runner, as if an administrator had started it from
a shell of their own: the scenario's ancestry is `sh -c SCRIPT` and then init, never the
runner. (An agent ties processes into one story by lineage: were the runner every
scenario's ancestor, one incident about the runner would swallow every later scenario.)

    detach.py PIDFILE STATUSFILE LOGFILE SCRIPT

The first process forks and exits at once; the second starts a new session, waits until
it has been re-parented, writes its pid to PIDFILE and execs `/bin/sh -c` running SCRIPT
(stdin /dev/null, stdout and stderr to LOGFILE) and writing its exit code to STATUSFILE.
The runner waits for STATUSFILE, and kills the session (process group = that pid) on
timeout.
"""

import os
import sys
import time

WRAPPER = '"$0" </dev/null >"$1" 2>&1; echo $? >"$2.tmp"; mv "$2.tmp" "$2"'


def main() -> int:
    pidfile, status, log, script = sys.argv[1:5]
    first = os.getpid()
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    deadline = time.monotonic() + 10
    while os.getppid() == first and time.monotonic() < deadline:
        time.sleep(0.001)
    with open(pidfile + ".tmp", "w") as fh:
        fh.write(f"{os.getpid()}\n")
    os.replace(pidfile + ".tmp", pidfile)
    os.execv("/bin/sh", ["sh", "-c", WRAPPER, script, log, status])
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
