#!/usr/bin/python3
# vigil-emulation: attack
# technique: T1046 Network Service Discovery
# tactic: discovery
# what: a TCP connect scan of 127.0.0.1 ports 1-1200 by a Python script (non-blocking
#   connects, 200 at a time), printing the open ports; most connections are refused.
# report: a port scan: one process connecting to more than a thousand distinct ports of
#   one host within seconds, nearly all refused.
# expect: scan
import selectors
import socket
import sys


def scan(host: str, ports: range, width: int = 200) -> list[int]:
    open_ports = []
    todo = list(ports)
    while todo:
        batch, todo = todo[:width], todo[width:]
        sel = selectors.DefaultSelector()
        for port in batch:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((host, port))
            sel.register(s, selectors.EVENT_WRITE, port)
        pending = len(batch)
        while pending:
            events = sel.select(timeout=1.0)
            if not events:
                break
            for key, _ in events:
                s = key.fileobj
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    open_ports.append(key.data)
                sel.unregister(s)
                s.close()
                pending -= 1
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
    return sorted(open_ports)


if __name__ == "__main__":
    found = scan("127.0.0.1", range(1, 1201))
    print("open:", found)
    sys.exit(0)
