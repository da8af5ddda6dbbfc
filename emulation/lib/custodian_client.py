"""Asks the runner's custodian (emulate/custodian.py) to back something up or set it up
before a scenario acts; the custodian undoes it after the scenario's window.

    custodian_client.py SOCKET backup PATH
    custodian_client.py SOCKET write PATH MODE OWNER SOURCE_FILE
    custodian_client.py SOCKET mkdir PATH MODE OWNER
    custodian_client.py SOCKET useradd NAME

Exit 0 once done, 1 with the custodian's reason otherwise.
"""

import json
import socket
import sys

FIELDS = {"backup": ["path"], "write": ["path", "mode", "owner", "source"],
          "mkdir": ["path", "mode", "owner"], "useradd": ["name"]}


def main() -> int:
    sock_path, op, *args = sys.argv[1:]
    names = FIELDS.get(op)
    if names is None or len(args) != len(names):
        print(f"custodian_client: usage: SOCKET {op} {' '.join(names or ['?'])}",
              file=sys.stderr)
        return 2
    req = {"op": op, **dict(zip(names, args))}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(sock_path)
        s.sendall((json.dumps(req) + "\n").encode())
        reply = s.makefile("r").readline().strip()
    if reply != "ok":
        print(f"custodian: {reply}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
