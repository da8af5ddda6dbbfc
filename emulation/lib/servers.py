"""The scenarios' own peers: listeners and servers on loopback or in a private netns.

    servers.py shell   --ready-file F [--host H] [--commands "id;uname -a"]   a reverse-shell
                       listener: accepts one connection, sends the commands one per line,
                       prints what comes back
    servers.py drive   --connect H:P [--commands ...]   the same against a bind shell
    servers.py sink    --ready-file F [--host H]        accepts connections, counts bytes
    servers.py http    --ready-file F [--host H] --dir D   serves files of D; stores the
                       bodies of POST/PUT requests under D/uploads; /health answers "ok"
    servers.py stratum --ready-file F [--host H]        a mining pool: answers JSON-RPC
                       login/subscribe/authorize with a job, counts submits
    servers.py dns     --ready-file F --host H [--port 53]   a resolver: answers every A
                       query with 127.0.0.1 and every other type with an empty answer
    servers.py imds    --ready-file F --host H [--port 80]   an instance-metadata service

Every server writes the port it listens on to --ready-file once it listens (port 0 = any
free port) and stops after --lifetime seconds at the latest.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _ready(path: str | None, port: int) -> None:
    if path:
        tmp = f"{path}.tmp"
        Path(tmp).write_text(f"{port}\n")
        os.replace(tmp, path)


def _listen(host: str, port: int, kind: int = socket.SOCK_STREAM) -> socket.socket:
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    return s


def _converse(conn: socket.socket, commands: list[str], pause: float) -> None:
    """Send each command, collect the output, print the transcript."""
    conn.settimeout(pause)
    transcript = []

    def drain() -> None:
        while True:
            try:
                data = conn.recv(65536)
            except (socket.timeout, OSError):
                return
            if not data:
                return
            transcript.append(data.decode("utf-8", "replace"))

    drain()
    for cmd in commands:
        try:
            conn.sendall(cmd.encode() + b"\n")
        except OSError:
            break
        drain()
    try:
        conn.sendall(b"exit\n")
    except OSError:
        pass
    drain()
    conn.close()
    sys.stdout.write("".join(transcript))
    sys.stdout.flush()


def cmd_shell(a: argparse.Namespace) -> int:
    srv = _listen(a.host, a.port)
    srv.settimeout(a.lifetime)
    _ready(a.ready_file, srv.getsockname()[1])
    try:
        conn, peer = srv.accept()
    except socket.timeout:
        print("no shell connected", file=sys.stderr)
        return 1
    print(f"shell connected from {peer[0]}:{peer[1]}", flush=True)
    _converse(conn, a.commands.split(";"), a.pause)
    return 0


def cmd_drive(a: argparse.Namespace) -> int:
    host, _, port = a.connect.rpartition(":")
    deadline = time.monotonic() + 10
    while True:
        try:
            conn = socket.create_connection((host, int(port)), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    _converse(conn, a.commands.split(";"), a.pause)
    return 0


def cmd_sink(a: argparse.Namespace) -> int:
    srv = _listen(a.host, a.port)
    _ready(a.ready_file, srv.getsockname()[1])
    srv.settimeout(1.0)
    deadline = time.monotonic() + a.lifetime
    total = 0
    while time.monotonic() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        conn.settimeout(5)
        n = 0
        try:
            while data := conn.recv(65536):
                n += len(data)
        except OSError:
            pass
        conn.close()
        total += n
        print(f"received {n} bytes (total {total})", flush=True)
    return 0


class _Http(BaseHTTPRequestHandler):
    root: Path = Path(".")
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stdout.write("http: " + (fmt % args) + "\n")
        sys.stdout.flush()

    def _send(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0].lstrip("/")
        if path in ("health", "healthz"):
            self._send(200, b"ok\n")
            return
        f = (self.root / path).resolve()
        if self.root.resolve() in f.parents and f.is_file():
            self._send(200, f.read_bytes(), "application/octet-stream")
        else:
            self._send(404, b"not found\n")

    def _store(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        up = self.root / "uploads"
        up.mkdir(exist_ok=True)
        (up / f"{time.time_ns()}.bin").write_bytes(body)
        self._send(200, f"stored {len(body)} bytes\n".encode())

    do_POST = _store  # noqa: N815
    do_PUT = _store  # noqa: N815


def _serve_http(a: argparse.Namespace, handler: type[BaseHTTPRequestHandler]) -> int:
    srv = ThreadingHTTPServer((a.host, a.port), handler)
    srv.daemon_threads = True
    _ready(a.ready_file, srv.server_address[1])
    threading.Timer(a.lifetime, srv.shutdown).start()
    srv.serve_forever(poll_interval=0.2)
    return 0


def cmd_http(a: argparse.Namespace) -> int:
    handler = type("Handler", (_Http,), {"root": Path(a.dir)})
    return _serve_http(a, handler)


class _Imds(_Http):
    """Answers like a cloud instance-metadata service (made-up values)."""

    TREE = {
        "latest/meta-data/": "ami-id\nhostname\niam/\ninstance-id\n",
        "latest/meta-data/instance-id": "i-0emul0000000000",
        "latest/meta-data/hostname": "emul.internal",
        "latest/meta-data/iam/security-credentials/": "emul-role\n",
        "latest/meta-data/iam/security-credentials/emul-role": json.dumps({
            "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAEMULATIONEXAMPLE",
            "SecretAccessKey": "emulation/not/a/real/secret/0000000000",
            "Token": "emulation-token", "Expiration": "2030-01-01T00:00:00Z"}),
    }

    def do_GET(self) -> None:  # noqa: N802
        body = self.TREE.get(self.path.lstrip("/"))
        self._send(200 if body is not None else 404, (body or "not found").encode())

    def do_PUT(self) -> None:  # noqa: N802 (IMDSv2 token request)
        self._send(200, b"emulation-imds-token")


def cmd_imds(a: argparse.Namespace) -> int:
    return _serve_http(a, _Imds)


class _Stratum(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        job = {"job_id": "1", "blob": "0" * 152, "target": "b88d0600", "algo": "rx/0",
               "height": 1, "seed_hash": "0" * 64}
        for raw in self.rfile:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            method = msg.get("method")
            print(f"stratum: {method}", flush=True)
            if method == "login":
                result: object = {"id": "emul", "job": job, "status": "OK"}
            elif method == "mining.subscribe":
                result = [[["mining.notify", "1"]], "00000000", 4]
            else:
                result = {"status": "OK"} if method == "submit" else True
            reply = {"id": msg.get("id"), "jsonrpc": "2.0", "error": None, "result": result}
            self.wfile.write(json.dumps(reply).encode() + b"\n")


def cmd_stratum(a: argparse.Namespace) -> int:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer((a.host, a.port), _Stratum)
    srv.daemon_threads = True
    _ready(a.ready_file, srv.server_address[1])
    threading.Timer(a.lifetime, srv.shutdown).start()
    srv.serve_forever(poll_interval=0.2)
    return 0


def dns_reply(query: bytes) -> bytes:
    """An answer to one DNS query: A → 127.0.0.1, anything else → no answer."""
    if len(query) < 12:
        return b""
    qid, _flags, qd = struct.unpack("!HHH", query[:6])
    off = 12
    labels = []
    while off < len(query) and query[off]:
        n = query[off]
        labels.append(query[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    off += 1
    if off + 4 > len(query):
        return b""
    qtype = struct.unpack("!H", query[off:off + 2])[0]
    question = query[12:off + 4]
    answers = b""
    count = 0
    if qtype == 1:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
        count = 1
    elif qtype == 16:
        txt = b"\x02ok"
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, len(txt)) + txt
        count = 1
    print("dns: " + ".".join(labels), flush=True)
    return struct.pack("!HHHHHH", qid, 0x8180, qd, count, 0, 0) + question + answers


def cmd_dns(a: argparse.Namespace) -> int:
    srv = _listen(a.host, a.port, socket.SOCK_DGRAM)
    _ready(a.ready_file, srv.getsockname()[1])
    srv.settimeout(0.5)
    deadline = time.monotonic() + a.lifetime
    while time.monotonic() < deadline:
        try:
            data, peer = srv.recvfrom(4096)
        except socket.timeout:
            continue
        reply = dns_reply(data)
        if reply:
            srv.sendto(reply, peer)
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="kind", required=True)
    handlers = {"shell": cmd_shell, "drive": cmd_drive, "sink": cmd_sink, "http": cmd_http,
                "stratum": cmd_stratum, "dns": cmd_dns, "imds": cmd_imds}
    for name in handlers:
        s = sub.add_parser(name)
        s.add_argument("--ready-file")
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, default=0)
        s.add_argument("--lifetime", type=float, default=90.0)
        s.add_argument("--commands", default="id;uname -a;pwd")
        s.add_argument("--pause", type=float, default=0.7)
        s.add_argument("--connect", default="")
        s.add_argument("--dir", default=".")
    a = p.parse_args()
    return handlers[a.kind](a)


if __name__ == "__main__":
    raise SystemExit(main())
