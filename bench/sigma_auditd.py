"""SigmaHQ's auditd rules on a benign corpus: Vigil against a reference auditd.

Run:  .venv/bin/python bench/sigma_auditd.py [--events 20000] [--seed 3] [--show 3]

1. The corpus: `generate_benign_events` (bench/sigma_events.py), an ordinary host's work
   without attacks: the sigma_engine mix plus login shells reading their rc files, PAM
   and login.defs reads, history files, dotfiles, system-information reads, unit files,
   sysctl reads and programs run from ~/.local.
2. The reference: what auditd itself would record on that host, re-implemented here
   independently of Vigil's translation: the host's audit rules are the rules the
   SigmaHQ rules document (read from their files) followed by
   bench/sigma_auditd_reference.rules; an event is recorded when one rule selects it
   (watches by path and the kernel's permission classes, syscall rules by name and `-F`
   filters), as the records auditd writes for it (SYSCALL with the first matching rule's
   key, EXECVE, one PATH per path with its nametype, CWD, PROCTITLE, and the user-space
   SERVICE_STOP / ADD_USER). Every auditd Sigma rule is converted once by
   `pysigma-backend-sqlite` and run over those records in SQLite, as Zircolite does.
3. Vigil: the same rules loaded by `load_sigma_paths` and run by `SigmaEngine` on the
   corpus, with `[rules.sigma_auditd] assume = "documented"` (the default) and `"all"`.
   Run with the code of an older Vigil on PYTHONPATH, the script measures its only mode.

Counts are events matched (an event matched by several rules counts once in the totals)
and (event, rule) pairs. `pysigma-backend-sqlite` is a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import platform
import re
import shlex
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sigma_events import HOST_MIX, generate_benign_events  # noqa: E402

from vigil.events.model import Event  # noqa: E402
from vigil.rules.sigma import SigmaEngine, load_sigma_paths  # noqa: E402
from vigil.rules.sigma.loader import parse_paths  # noqa: E402

RULES = Path(__file__).resolve().parents[2] / "shared" / "rules" / "sigma" / "linux" / "auditd"
HOST_RULES = Path(__file__).resolve().parent / "sigma_auditd_reference.rules"

# --- the reference auditd ---------------------------------------------------------------
# Kept apart from vigil.rules.sigma.auditd on purpose: a second reading of auditd's
# behaviour, so that the comparison checks Vigil's translation rather than repeating it.

_WRITE = {"creat", "truncate", "ftruncate", "fallocate", "rename", "renameat", "renameat2",
          "mkdir", "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "unlink",
          "unlinkat", "mknod", "mknodat", "bind"}
_READ = {"readlink", "readlinkat", "getxattr", "lgetxattr", "fgetxattr", "listxattr",
         "llistxattr", "flistxattr"}
_ATTR = {"chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "setxattr",
         "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "utime",
         "utimes", "futimesat", "utimensat"}
_EXEC = {"execve", "execveat"}
_OPEN = {"open", "openat", "openat2"}
O_CREAT = 0o100


@dataclass
class HostRule:
    """One line of the host's audit rules."""

    text: str
    watch: str | None = None
    perms: str = "rwxa"
    syscalls: set[str] = field(default_factory=set)
    filters: list[tuple[str, str, str]] = field(default_factory=list)
    key: str | None = None


def read_host_rule(line: str) -> HostRule | None:
    words = shlex.split(line)
    if words[:1] not in (["-w"], ["-a"]):
        return None
    r = HostRule(line)
    for opt, val in zip(words[::2], words[1::2]):
        if opt == "-w":
            r.watch = val.rstrip("/")
        elif opt == "-p":
            r.perms = val
        elif opt == "-k":
            r.key = val
        elif opt == "-S":
            r.syscalls.update(val.split(","))
        elif opt == "-F":
            m = re.fullmatch(r"(\w+)(!=|=)(.*)", val)
            if m is None:
                raise ValueError(f"{line}: -F {val}")
            if m.group(1) == "key":
                r.key = m.group(3)
            elif m.group(1) != "arch":
                r.filters.append((m.group(1), m.group(2), m.group(3)))
    return r


def path_items(ev: Event) -> list[tuple[str, str]]:
    """The PATH records auditd writes for an event: (name, nametype)."""
    a, t = ev.args, ev.type
    if t in _EXEC:
        return [(ev.proc.exepath or "", "NORMAL")]
    if t in _OPEN:
        return [(a.get("name", ""), "CREATE" if a.get("flags", 0) & O_CREAT else "NORMAL")]
    if t in ("rename", "renameat", "renameat2"):
        return [(a.get("oldpath", ""), "DELETE"), (a.get("newpath", ""), "CREATE")]
    if t in ("unlink", "unlinkat", "rmdir"):
        return [(a.get("name") or a.get("path", ""), "DELETE")]
    if t in ("mkdir", "mkdirat", "creat", "mknod", "mknodat", "link", "linkat", "symlink",
             "symlinkat"):
        return [(a.get("path") or a.get("name") or a.get("newpath")
                 or a.get("linkpath", ""), "CREATE")]
    for k in ("filename", "path", "pathname", "name"):
        if isinstance(a.get(k), str):
            return [(a[k], "NORMAL")]
    return []


def access(ev: Event) -> set[str]:
    """The permission classes the kernel gives this syscall (audit_match_perm)."""
    t = ev.type
    if t in _OPEN:
        mode = ev.args.get("flags", 0) & 3
        return {"r"} if mode == 0 else {"w"} if mode == 1 else {"r", "w"}
    return ({"w"} if t in _WRITE else {"r"} if t in _READ else {"a"} if t in _ATTR
            else {"x"} if t in _EXEC else set())


def _under(path: str, top: str) -> bool:
    twins = {top, "/usr" + top} if re.match(r"/(s?bin|lib)(/|$)", top) else {top}
    return any(path == p or path.startswith(p + "/") for p in twins)


def selects(rule: HostRule, ev: Event) -> bool:
    if rule.watch is not None:
        if not access(ev) & set(rule.perms):
            return False
        return any(_under(p, rule.watch) for p, _nt in path_items(ev))
    if ev.type not in rule.syscalls and "all" not in rule.syscalls:
        return False
    regs = ev.regs or (0,) * 6 if hasattr(ev, "regs") else (0,) * 6
    p = ev.proc
    for name, op, value in rule.filters:
        if name == "success":
            have = "1" if (ev.res or 0) >= 0 else "0"
            want = "1" if value.lower() in ("1", "yes") else "0"
        elif re.fullmatch(r"a[0-3]", name):
            have, want = regs[int(name[1])], int(value, 0)
        elif name in ("euid", "uid", "auid"):
            have = {"euid": p.euid, "uid": p.uid, "auid": p.loginuid}[name]
            want = int(value)
        else:
            raise ValueError(f"{rule.text}: -F {name} not modelled by the reference")
        if (have == want) != (op == "="):
            return False
    return True


def host_rules(sigma_rules: Iterable[Any]) -> list[HostRule]:
    """The rules the Sigma rules document, then the reference file's."""
    out: list[HostRule] = []
    for rule in sigma_rules:
        for line in (getattr(rule.logsource, "definition", None) or "").splitlines():
            r = read_host_rule(line.strip()) if line.strip().startswith("-") else None
            if r is not None:
                out.append(r)
    for line in HOST_RULES.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            r = read_host_rule(line.strip())
            if r is not None:
                out.append(r)
    return out


def records(i: int, ev: Event, rules: list[HostRule]) -> list[dict[str, Any]]:
    """The auditd records of one event (empty when no audit rule selects it)."""
    out: list[dict[str, Any]] = []
    p = ev.proc
    argv = [p.exe or p.name or "", *p.args]
    if ev.type in _EXEC:
        unit = None
        if p.name == "systemctl" and len(p.args) >= 2 and p.args[0] in ("stop", "kill"):
            unit = p.args[-1]
        elif p.name == "service" and len(p.args) >= 2 and p.args[1] == "stop":
            unit = p.args[0]
        if unit:
            out.append({"event_id": i, "type": "SERVICE_STOP",
                        "unit": unit.removesuffix(".service")})
        if p.name in ("useradd", "adduser"):
            out.append({"event_id": i, "type": "ADD_USER", "exe": p.exepath})
    if ev.source != "syscall":
        return out
    first = next((r for r in rules if selects(r, ev)), None)
    if first is None:
        return out
    regs = (getattr(ev, "regs", None) or (0,) * 6)
    out.append({"event_id": i, "type": "SYSCALL", "SYSCALL": ev.type, "key": first.key,
                "exe": p.exepath, "comm": p.name, "uid": p.uid, "euid": p.euid,
                "auid": p.loginuid, "pid": p.pid, "ppid": p.ppid,
                "success": "yes" if (ev.res or 0) >= 0 else "no", "exit": ev.res,
                **{f"a{n}": format(regs[n] & 0xFFFFFFFFFFFFFFFF, "x") for n in range(4)}})
    if ev.type in _EXEC:
        rec: dict[str, Any] = {"event_id": i, "type": "EXECVE", "argc": len(argv),
                               "Text": " ".join(argv)}
        rec.update({f"a{n}": a for n, a in enumerate(argv[:8])})
        out.append(rec)
    items = path_items(ev)
    if items:
        out.append({"event_id": i, "type": "CWD", "cwd": p.cwd})
        for name, nametype in items:
            out.append({"event_id": i, "type": "PATH", "name": name, "nametype": nametype})
    out.append({"event_id": i, "type": "PROCTITLE", "proctitle": " ".join(argv)})
    return out


def reference_matches(events: list[Event], sigma_rules: list[Any]
                      ) -> tuple[dict[str, set[int]], dict[str, str], int]:
    """rule id -> matched event indexes, the rules the backend refused, record count."""
    from sigma.backends.sqlite import sqliteBackend

    rules = host_rules(sigma_rules)
    rows: list[dict[str, Any]] = []
    for i, ev in enumerate(events):
        rows.extend(records(i, ev, rules))
    # column names are compared case-insensitively by SQLite, as the rules' field names
    cols = sorted({k for r in rows for k in r} - {"event_id"} | {"Text", "key", "type"})
    con = sqlite3.connect(":memory:")
    con.create_function("regexp", 2, lambda pat, v: 0 if v is None else
                        1 if re.search(pat, str(v)) else 0, deterministic=True)
    con.execute("CREATE TABLE logs (event_id INTEGER, "
                + ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in cols) + ")")
    con.executemany(
        f"INSERT INTO logs (event_id, {', '.join(chr(34) + c + chr(34) for c in cols)}) "
        f"VALUES ({', '.join('?' * (len(cols) + 1))})",
        [(r["event_id"], *(None if r.get(c) is None else str(r[c]) for c in cols))
         for r in rows])
    backend = sqliteBackend(fulltext_field="Text")
    out: dict[str, set[int]] = {}
    refused: dict[str, str] = {}
    for rule in sigma_rules:
        rid = str(rule.id)
        try:
            [q] = backend.convert_rule(rule)
        except Exception as exc:  # the backend's own errors, per rule
            refused[rid] = str(exc)
            continue
        q = q.replace("SELECT * FROM", "SELECT DISTINCT event_id FROM", 1)
        try:
            out[rid] = {eid for (eid,) in con.execute(q)}
        except sqlite3.OperationalError as exc:  # a column no record has: nothing matches
            if "no such column" not in str(exc):
                raise
            out[rid] = set()
    return out, refused, len(rows)


# --- Vigil -------------------------------------------------------------------------------

def vigil_matches(events: list[Event], assume: str | None) -> tuple[dict[str, set[int]],
                                                                      float]:
    """rule id -> matched event indexes with this `assume` (None: the code's only mode)."""
    kw: dict[str, Any] = {}
    if assume is not None:
        from vigil.rules.sigma.auditd import AuditdSettings
        from vigil.rules.sigma.logsource import LogsourceRouter
        kw["router"] = LogsourceRouter(auditd=AuditdSettings(assume=assume))
    result = load_sigma_paths([RULES], **kw)
    engine = SigmaEngine(result.rules)
    out: dict[str, set[int]] = defaultdict(set)
    t0 = time.perf_counter()
    for i, ev in enumerate(events):
        for d in engine.on_event(ev):
            out[d.rule_id].add(i)  # type: ignore[index]
    return out, time.perf_counter() - t0


def _events(m: dict[str, set[int]]) -> set[int]:
    return set().union(*m.values()) if m else set()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--show", type=int, default=2, help="examples per rule that differ")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    events = list(generate_benign_events(args.events, args.seed))
    kinds = Counter(e.type for e in events)
    print(f"benign corpus: {len(events):,} events (seed {args.seed}); host work per 1000: "
          + ", ".join(f"{k} {v}" for k, v in HOST_MIX.items()))
    print("  by type: " + ", ".join(f"{t} {n}" for t, n in kinds.most_common()))
    parsed = [p.rule for p in parse_paths([RULES]).rules]
    titles = {str(r.id): r.title for r in parsed}
    try:
        import vigil.rules.sigma.auditd  # noqa: F401
        modes: list[str | None] = ["documented", "all"]
    except ImportError:
        modes = [None]
    runs = {}
    for mode in modes:
        m, secs = vigil_matches(events, mode)
        runs[mode or "this code"] = m
        print(f"Vigil ({mode or 'this code'}): {len(_events(m)):,} events matched, "
              f"{sum(map(len, m.values())):,} (event, rule) pairs, {secs:.2f} s")
    try:
        ref, refused, nrec = reference_matches(events, parsed)
    except ImportError:
        print("pysigma-backend-sqlite is not installed: no reference. Install it (benchmark "
              "only):  .venv/bin/pip install pysigma-backend-sqlite")
        return 0
    print(f"reference auditd + SQLite: {nrec:,} records; {len(_events(ref)):,} events "
          f"matched, {sum(map(len, ref.values())):,} (event, rule) pairs; "
          f"{len(refused)} rules refused by the backend")
    for rid, why in refused.items():
        print(f"  refused: {titles.get(rid)}: {why}")
    ref_events = _events(ref)
    for name, m in runs.items():
        mine = _events(m)
        pairs = {(i, r) for r, s in m.items() for i in s if r in ref}
        rpairs = {(i, r) for r, s in ref.items() for i in s}
        ratio = len(mine) / len(ref_events) if ref_events else float("inf")
        print(f"\n{name}: {len(mine):,} events vs reference {len(ref_events):,} "
              f"({ratio:.2f}x); pairs: {len(pairs & rpairs):,} shared, "
              f"{len(pairs - rpairs):,} only Vigil, {len(rpairs - pairs):,} only reference")
        print(f"  {'rule':58} {'vigil':>6} {'ref':>6} {'shared':>6}")
        for rid in sorted(set(m) | set(ref), key=lambda r: -len(m.get(r, ())) - len(ref.get(
                r, ()))):
            v, rf = m.get(rid, set()), ref.get(rid, set())
            if not v and not rf:
                continue
            print(f"  {titles.get(rid, rid)[:58]:58} {len(v):>6} {len(rf):>6} "
                  f"{len(v & rf):>6}")
            for label, diff in (("only Vigil", v - rf), ("only ref", rf - v)):
                for i in sorted(diff)[: args.show]:
                    e = events[i]
                    what = e.fd.name if e.fd is not None and e.fd.name else \
                        " ".join([e.proc.exe or "", *e.proc.args])[:60]
                    print(f"      {label}: #{i} {e.type} {e.proc.name} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
