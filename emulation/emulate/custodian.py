"""The custodian: backs up what a scenario is about to change and restores it after the
scenario's time window, from the runner's own process.

Why not in the scenario: copying /etc/shadow before a test and writing it back after are
themselves reads and writes of sensitive files. Done by the scenario, they would be the
scenario's activity and could raise incidents that no ordinary workload raises (a benign
scenario would fail because of its own cleanup). Done by the runner, outside every
scenario's process tree and after the window, they are attributed to no scenario.

The same goes for a scenario's set-up that is not the behaviour under test (the scratch
account whose keys a credential thief reads, the sudo rule a GTFOBins escape needs): the
custodian does it, so the agent judges the attack, not the stage it was set on.

Scenarios ask through a Unix socket (`lib/custodian_client.py`, used by `emul_backup`,
`emul_setup_file`, `emul_setup_dir` and `emul_user` in `lib/common.sh` when
`EMUL_CUSTODIAN` is set): one JSON line per request —
`{"op": "backup", "path": P}`, `{"op": "write", "path": P, "mode": "600", "owner":
"user:group", "source": FILE}`, `{"op": "mkdir", "path": P, "mode": ..., "owner": ...}`,
`{"op": "useradd", "name": N}` — answered `ok` once done. Every undo entry is also
written to `pending.jsonl` before the answer, so `python -m emulate --restore RUN_DIR` can
finish the job if the runner dies.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One thing to undo: `restore` PATH from COPY, `remove` PATH, or `rmdir` PATH."""

    op: str
    path: str
    copy: str = ""


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def undo(entry: Entry) -> str | None:
    """Apply one entry; returns a problem or None."""
    try:
        if entry.op == "rmdir":
            if os.path.isdir(entry.path):
                try:
                    os.rmdir(entry.path)
                except OSError:
                    return f"{entry.path} was not empty: kept"
        elif entry.op == "remove":
            _remove(entry.path)
        elif entry.op == "restore":
            cst = os.lstat(entry.copy)
            if stat.S_ISREG(cst.st_mode) and os.path.isfile(entry.path) \
                    and not os.path.islink(entry.path):
                # same inode: bind-mounted files (/etc/hosts) and open handles survive
                with open(entry.copy, "rb") as src, open(entry.path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.chown(entry.path, cst.st_uid, cst.st_gid)
                os.chmod(entry.path, stat.S_IMODE(cst.st_mode))
                os.utime(entry.path, ns=(cst.st_atime_ns, cst.st_mtime_ns))
            else:
                _remove(entry.path)
                subprocess.run(["cp", "-a", "--", entry.copy, entry.path], check=True)
        return None
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"could not {entry.op} {entry.path}: {exc}"


class Custodian:
    """Serves backup requests for the running scenario; restores after it."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.socket_path = directory / "custodian.sock"
        self.pending_path = directory / "pending.jsonl"
        self.entries: list[Entry] = []
        self._lock = threading.Lock()
        self._n = 0
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen for requests."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if self.socket_path.exists():
            self.socket_path.unlink()
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(self.socket_path))
        srv.listen(8)
        srv.settimeout(0.5)
        self._server = srv
        self._thread = threading.Thread(target=self._serve, name="custodian", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._server is not None
        while self._server is not None:
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    line = conn.makefile("r").readline()
                    conn.sendall((self.handle(line) + "\n").encode())
                except OSError:
                    pass

    def handle(self, line: str) -> str:
        """Serve one request line; "ok" or "error: ..."."""
        try:
            req = json.loads(line)
            op = req["op"]
            if op == "backup":
                return self.backup(str(req["path"]))
            if op == "write":
                return self.write(str(req["path"]), str(req["mode"]), str(req["owner"]),
                                  str(req["source"]))
            if op == "mkdir":
                return self.mkdir(str(req["path"]), str(req["mode"]), str(req["owner"]))
            if op == "useradd":
                return self.useradd(str(req["name"]))
            return f"error: unknown op {op!r}"
        except (ValueError, KeyError, TypeError) as exc:
            return f"error: bad request ({exc})"

    def write(self, path: str, mode: str, owner: str, source: str) -> str:
        """Install `source` at `path` with `mode` and `owner` (restored afterwards)."""
        status = self.backup(path)
        if status != "ok":
            return status
        res = subprocess.run(["install", "-D", "-m", mode, "-o", owner.split(":")[0],
                              "-g", owner.split(":")[-1], "--", source, path],
                             capture_output=True, text=True)
        return "ok" if res.returncode == 0 else f"error: {res.stderr.strip()}"

    def mkdir(self, path: str, mode: str, owner: str) -> str:
        """Create directory `path` (removed afterwards)."""
        status = self.backup(path)
        if status != "ok":
            return status
        res = subprocess.run(["install", "-d", "-m", mode, "-o", owner.split(":")[0],
                              "-g", owner.split(":")[-1], "--", path],
                             capture_output=True, text=True)
        return "ok" if res.returncode == 0 else f"error: {res.stderr.strip()}"

    def useradd(self, name: str) -> str:
        """Create a scratch account with a home; the account databases are restored and
        the home removed afterwards."""
        if not name.startswith("vigil-emul-"):
            return "error: scratch accounts are named vigil-emul-*"
        for f in ("passwd", "shadow", "group", "gshadow", "subuid", "subgid"):
            for path in (f"/etc/{f}", f"/etc/{f}-"):
                status = self.backup(path)
                if status != "ok":
                    return status
        for path in (f"/home/{name}", f"/var/mail/{name}"):
            self.backup(path)
        res = subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], capture_output=True,
                             text=True)
        return "ok" if res.returncode == 0 else f"error: {res.stderr.strip()}"

    def _add(self, entry: Entry) -> None:
        self.entries.append(entry)
        with self.pending_path.open("a") as fh:
            fh.write(json.dumps(asdict(entry)) + "\n")

    def backup(self, path: str) -> str:
        """Remember how to put `path` back; "ok" or "error: ..."."""
        if not os.path.isabs(path):
            return f"error: {path!r} is not absolute"
        path = os.path.normpath(path)
        with self._lock:
            missing = []
            parent = os.path.dirname(path)
            while not os.path.exists(parent):
                missing.append(parent)
                parent = os.path.dirname(parent)
            for d in reversed(missing):  # outermost first: undone last
                if Entry("rmdir", d) not in self.entries:  # one per directory, the first
                    self._add(Entry("rmdir", d))
            if os.path.lexists(path):
                self._n += 1
                holder = self.dir / "copies" / str(self._n)
                holder.mkdir(parents=True)
                copy = holder / (os.path.basename(path) or "root")
                res = subprocess.run(["cp", "-a", "--", path, str(copy)], capture_output=True,
                                     text=True)
                if res.returncode != 0:
                    return f"error: cannot copy {path}: {res.stderr.strip()}"
                self._add(Entry("restore", path, str(copy)))
            else:
                self._add(Entry("remove", path))
        return "ok"

    def restore_all(self) -> list[str]:
        """Undo every entry, newest first; returns the problems."""
        with self._lock:
            problems = [p for e in reversed(self.entries) if (p := undo(e))]
            self.entries = []
            if self.pending_path.exists():
                self.pending_path.unlink()
            shutil.rmtree(self.dir / "copies", ignore_errors=True)
        return problems

    def stop(self) -> None:
        """Stop listening (restore first)."""
        srv, self._server = self._server, None
        if srv is not None:
            srv.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.socket_path.exists():
            self.socket_path.unlink()


def restore_pending(directory: Path) -> list[str]:
    """Finish the restores a runner that died left in `directory/pending.jsonl`."""
    pending = directory / "pending.jsonl"
    if not pending.exists():
        return []
    entries = [Entry(**json.loads(line)) for line in pending.read_text().splitlines()
               if line.strip()]
    problems = [p for e in reversed(entries) if (p := undo(e))]
    pending.unlink()
    shutil.rmtree(directory / "copies", ignore_errors=True)
    return problems
