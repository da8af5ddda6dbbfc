"""auditd semantics for Sigma rules: which audit rules a rule assumes, and the records
they make.

auditd writes records only for what its rules select: a watch `-w /etc/profile -p wa`
records writes and attribute changes of that file, never its reads; a syscall rule
`-a always,exit -S sysinfo` records `sysinfo` calls and nothing else. A Sigma auditd rule
(`type: PATH`, `name: /etc/profile`) therefore matches only the events the host's audit
rules record. Vigil has one event per syscall and no audit rules, so for each Sigma rule
it decides which audit rules to assume (`RuleAudit`), and turns them into conditions on
its events:

1. the audit rules configured for the Sigma rule in `vigil.toml`
   (`[rules.sigma_auditd.audit_rules]`), else
2. the audit rules the rule documents (auditctl lines in its `logsource.definition` or
   its `description`), plus Vigil's table of well-known keys (`KNOWN_KEYS`) for keys the
   rule names without documenting them, else
3. the least the rule's record types need (`infer_audit_rules`): exec logging
   (`-S execve,execveat`) for EXECVE records and for SYSCALL records of a program, the
   named syscalls for SYSCALL records that name them, and for PATH records a watch on the
   rule's own paths with the permissions its title (else its description) speaks of:
   "modification", "change", "creation" -> `wa`; "discovery", "read" -> `r`;
   "access" -> `rwa`; "execution" -> `x`; nothing said -> `wa`.

`[rules.sigma_auditd] assume = "all"` widens this back to "every audit rule is
configured": a SYSCALL record for every syscall, a PATH record for every syscall that
names a path (keys still select what their audit rules select).

Permission classes follow the kernel (`audit_match_perm`): an open is a read or a write by
its access mode, other syscalls by their audit class (write: creat, truncate, rename,
mkdir, unlink, link, symlink, mknod ...; attribute: chmod, chown, setxattr, utimes ...;
exec: execve, execveat).
"""

from __future__ import annotations

import errno
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from vigil.config_errors import ConfigError
from vigil.rules.ast import And, Compare, Const, FieldRef, ListValue, Node, Not, Or, Value

ASSUME_DOCUMENTED = "documented"
ASSUME_ALL = "all"

EXEC_TYPES = frozenset({"execve", "execveat"})
OPEN_TYPES = frozenset({"open", "openat", "openat2"})
#: the kernel's write class (asm-generic/audit_write.h and audit_dir_write.h)
WRITE_CLASS = frozenset({
    "creat", "truncate", "ftruncate", "fallocate", "bind", "acct", "swapon", "quotactl",
    "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "symlink", "symlinkat", "unlink", "unlinkat", "mknod", "mknodat",
})
#: the kernel's read class (asm-generic/audit_read.h)
READ_CLASS = frozenset({"readlink", "readlinkat", "getxattr", "lgetxattr", "fgetxattr",
                        "listxattr", "llistxattr", "flistxattr", "quotactl"})
#: the kernel's attribute-change class (asm-generic/audit_change_attr.h)
ATTR_CLASS = frozenset({
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "utime", "utimes", "futimesat", "utimensat",
})
#: syscalls whose audit records include PATH (and CWD) records: those naming a path or
#: acting on a file through an fd
PATH_TYPES = (OPEN_TYPES | EXEC_TYPES | WRITE_CLASS | READ_CLASS | ATTR_CLASS
              | frozenset({"mount", "umount2", "chdir", "fchdir", "finit_module"})) \
    - frozenset({"bind", "acct", "swapon", "quotactl"})

PERMS = "rwxa"
#: auditd records written for the syscalls the audit rules select
AUDITED_RECORDS = frozenset({"SYSCALL", "EXECVE", "PATH", "CWD", "PROCTITLE"})

#: words of a rule's title or description -> the watch permissions it speaks of
_INTENT_WORDS: tuple[tuple[str, str], ...] = (
    (r"modif|chang|creat|writ|tamper|delet|remov|overwrit|append|enabl|disabl|install",
     "wa"),
    (r"discover|read|enumerat|recon", "r"),
    (r"access", "rwa"),
    (r"execut|calls? to|launch", "x"),
)
#: words of a rule's title or description -> syscalls its SYSCALL records come from
_INTENT_SYSCALLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"kernel module", ("init_module", "finit_module", "delete_module")),
)

#: auditd keys used by SigmaHQ rules that do not spell out their audit rules, as the
#: audit configurations they cite define them
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    # Neo23x0/auditd "Successful IPv4/IPv6 Connections": connect with a sockaddr_in(6)
    # length (16 / 28 bytes) that succeeded
    "network_connect_4": ("-a always,exit -S connect -F a2=16 -F success=1 "
                          "-k network_connect_4",),
    "network_connect_6": ("-a always,exit -S connect -F a2=28 -F success=1 "
                          "-k network_connect_6",),
    # execution of network and remote-access tools (the rule citing it lists them)
    "susp_activity": tuple(f"-w /usr/bin/{tool} -p x -k susp_activity"
                           for tool in ("wget", "curl", "base64", "nc", "netcat", "ncat",
                                        "ssh", "socat", "wireshark", "rawshark",
                                        "rdesktop", "nmap")),
}

#: `-F` fields modelled on Vigil's events: audit field -> registry field
_FIELD_MAP = {
    "uid": "user.uid", "euid": "user.euid", "auid": "user.loginuid", "loginuid":
    "user.loginuid", "gid": "group.gid", "pid": "proc.pid", "ppid": "proc.ppid",
    "exit": "evt.rawres",
}
_OPS = ("!=", "<=", ">=", "&=", "=", "<", ">", "&")


def _cmp(fname: str, op: str, value: str | Iterable[str] | None = None,
         arg: str | None = None) -> Compare:
    ref = FieldRef(fname, arg)
    if value is None:
        return Compare(ref, op)
    if isinstance(value, str):
        return Compare(ref, op, Value(value, True))
    return Compare(ref, op, ListValue(tuple(Value(v, True) for v in sorted(value))))


def _types(names: Iterable[str]) -> Compare:
    return _cmp("evt.type", "in", frozenset(names))


def perm_condition(perms: str) -> Node:
    """Events an audit rule with these permissions (`rwxa`) selects, path aside."""
    parts: list[Node] = []
    if "r" in perms:
        parts += [And((_types(OPEN_TYPES), _cmp("evt.is_open_read", "=", "true"))),
                  _types(READ_CLASS)]
    if "w" in perms:
        parts += [And((_types(OPEN_TYPES), _cmp("evt.is_open_write", "=", "true"))),
                  _types(WRITE_CLASS)]
    if "a" in perms:
        parts.append(_types(ATTR_CLASS))
    if "x" in perms:
        parts.append(_types(EXEC_TYPES))
    if not parts:
        return Const(False)
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def _path_variants(path: str) -> tuple[str, ...]:
    """`path` and its twin on a merged-/usr system (/bin/nc is /usr/bin/nc)."""
    p = path.rstrip("/") or "/"
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if p == top or p.startswith(top + "/"):
            return (p, "/usr" + p)
    return (p,)


def path_condition(path: str) -> Node:
    """The event names `path` or something below it (a directory watch is recursive)."""
    parts: list[Node] = []
    for p in _path_variants(path):
        parts.append(_cmp("audit.path", "=", p))
        if p != "/":
            parts.append(_cmp("audit.path", "startswith", p + "/"))
    return Or(tuple(parts))


class AuditRuleError(ValueError):
    """An auditctl line that cannot be read; the message says why."""


@dataclass(frozen=True)
class AuditRule:
    """One audit rule: a watch (`-w PATH -p PERMS`) or a syscall rule (`-a always,exit`).

    `condition` is the set of Vigil events the rule records; `notes` are what could not be
    modelled exactly (a `-F` field Vigil does not see is left out, which widens the rule).
    """

    text: str
    condition: Node
    key: str | None = None
    #: watch permissions, or "" for a syscall rule
    perms: str = ""
    notes: tuple[str, ...] = ()


def parse_audit_rule(line: str) -> AuditRule | None:
    """An auditctl rule line as an `AuditRule`; None for a line that records nothing
    (`never`, other lists). Raises `AuditRuleError` for a malformed line."""
    text = line.strip()
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise AuditRuleError(f"{text!r}: {exc}") from None
    while words and words[0] in ("sudo", "auditctl"):
        words = words[1:]
    if not words or words[0] not in ("-w", "-a", "-A"):
        raise AuditRuleError(f"{text!r}: expected a watch (-w PATH) or a syscall rule "
                             "(-a always,exit ...)")
    opts: list[tuple[str, str]] = []
    it = iter(words)
    for w in it:
        if w in ("-w", "-a", "-A", "-p", "-k", "-S", "-F", "-C"):
            val = next(it, None)
            if val is None:
                raise AuditRuleError(f"{text!r}: {w} needs a value")
            opts.append((w, val))
        else:
            raise AuditRuleError(f"{text!r}: unexpected {w!r}")
    if words[0] == "-w":
        return _watch(text, opts)
    return _syscall_rule(text, opts)


def _watch(text: str, opts: list[tuple[str, str]]) -> AuditRule:
    path, perms, key = "", PERMS, None
    for o, v in opts:
        if o == "-w":
            path = v
        elif o == "-p":
            perms = v
        elif o == "-k":
            key = v
        elif o == "-F" and v.startswith("key="):
            key = v[4:]
        else:
            raise AuditRuleError(f"{text!r}: {o} is not allowed in a watch")
    if not path.startswith("/"):
        raise AuditRuleError(f"{text!r}: the watched path must be absolute")
    if not perms or any(c not in PERMS for c in perms):
        raise AuditRuleError(f"{text!r}: -p takes permissions among r, w, x, a")
    cond = And((path_condition(path), perm_condition(perms)))
    return AuditRule(text, cond, key, perms)


def _syscall_rule(text: str, opts: list[tuple[str, str]]) -> AuditRule | None:
    syscalls: set[str] = set()
    any_syscall = False
    parts: list[Node] = []
    notes: list[str] = []
    key = None
    for o, v in opts:
        if o in ("-a", "-A"):
            action = set(v.split(","))
            if len(action) != 2 or not action & {"always", "never"}:
                raise AuditRuleError(f"{text!r}: -a takes <action>,<list> (always,exit)")
            if "always" not in action or "exit" not in action:
                return None  # `never` rules and other lists record nothing here
        elif o == "-S":
            for name in v.split(","):
                if name == "all":
                    any_syscall = True
                elif re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                    syscalls.add(name)
                else:
                    raise AuditRuleError(f"{text!r}: syscall {name!r} must be given by name")
        elif o == "-k":
            key = v
        elif o == "-C":
            notes.append(f"-C {v} is not modelled")
        elif o == "-F":
            fname, op, value = _split_field(text, v)
            if fname == "key":
                key = value
                continue
            node, note = _field_condition(fname, op, value)
            if node is not None:
                parts.append(node)
            if note:
                notes.append(note)
    if not syscalls and not any_syscall:
        raise AuditRuleError(f"{text!r}: no syscall given (-S name, or -S all)")
    if not any_syscall:
        parts.insert(0, _types(syscalls))
    cond: Node = Const(True) if not parts else parts[0] if len(parts) == 1 \
        else And(tuple(parts))
    return AuditRule(text, cond, key, "", tuple(f"{text}: {n}" for n in notes))


def _split_field(text: str, spec: str) -> tuple[str, str, str]:
    for op in _OPS:
        name, sep, value = spec.partition(op)
        if sep and name and "=" not in name and "<" not in name and ">" not in name \
                and "!" not in name and "&" not in name:
            return name, op, value
    raise AuditRuleError(f"{text!r}: -F takes field<op>value, not {spec!r}")


def _number(value: str) -> int | None:
    v = value.strip()
    if v.startswith("-") and v[1:].isalpha():  # -EACCES
        code = getattr(errno, v[1:], None)
        return -code if isinstance(code, int) else None
    try:
        return int(v, 0)
    except ValueError:
        return None


def _field_condition(fname: str, op: str, value: str) -> tuple[Node | None, str]:
    """A `-F` filter as a condition, or (None, why it is left out)."""
    if fname == "arch":
        return None, ""  # Vigil's events are the native architecture's syscalls
    if fname == "success":
        ok = value.lower() in ("1", "yes", "true")
        if op not in ("=", "!="):
            return None, f"-F success{op}{value} is not modelled"
        failed = _cmp("evt.failed", "=", "true")
        return (Not(failed) if ok == (op == "=") else failed), ""
    if fname in ("path", "dir"):
        if op not in ("=", "!="):
            return None, f"-F {fname}{op} is not modelled"
        node: Node = _cmp("audit.path", "=", value) if fname == "path" \
            else path_condition(value)
        return (node if op == "=" else Not(node)), ""
    if fname == "exe":
        if op not in ("=", "!="):
            return None, f"-F exe{op} is not modelled"
        node = Or(tuple(_cmp("proc.exepath", "=", p) for p in _path_variants(value)))
        return (node if op == "=" else Not(node)), ""
    if fname == "perm":
        if any(c not in PERMS for c in value):
            raise AuditRuleError(f"-F perm={value}: permissions are among r, w, x, a")
        return perm_condition(value), ""
    if re.fullmatch(r"a[0-3]", fname):
        n = _number(value)
        if n is None or op not in ("=", "!="):
            return None, f"-F {fname}{op}{value} is not modelled"
        node = _cmp("audit.syscall_arg", "iequals", format(n & 0xFFFFFFFFFFFFFFFF, "x"),
                    fname[1])
        return (node if op == "=" else Not(node)), ""
    target = _FIELD_MAP.get(fname)
    if target is not None and op not in ("&", "&="):
        if fname in ("auid", "loginuid") and value in ("unset", "4294967295"):
            value = "-1"
        n = _number(value)
        if n is None:
            return None, f"-F {fname}{op}{value}: not a number"
        return _cmp(target, "=" if op == "=" else op, str(n)), ""
    return None, f"-F {fname}{op}{value} is not modelled (left out: the rule is wider)"


def parse_audit_rules(text: str) -> tuple[list[AuditRule], list[str]]:
    """The auditctl rule lines found in free text (a rule's definition or description),
    and the problems of lines that looked like rules but could not be read."""
    rules: list[AuditRule] = []
    problems: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().strip("`").strip()
        for prefix in ("sudo ", "auditctl "):
            if line.startswith(prefix):
                line = line[len(prefix):].lstrip()
        if not re.match(r"-[wa]\s", line):
            continue
        try:
            r = parse_audit_rule(line)
        except AuditRuleError as exc:
            problems.append(str(exc))
            continue
        if r is not None:
            rules.append(r)
    return rules, problems


# --- per-rule assumption -------------------------------------------------------------

@dataclass(frozen=True)
class RuleScan:
    """What a Sigma auditd rule asks of the audit records (collected from its detection)."""

    title: str = ""
    description: str = ""
    definition: str = ""
    rule_id: str = ""
    #: record types named by `type:` (upper case)
    record_types: frozenset[str] = frozenset()
    #: syscall names given in `SYSCALL:`/`syscall:` values
    syscalls: frozenset[str] = frozenset()
    #: keys named by `key:`
    keys: frozenset[str] = frozenset()
    #: argv fields (a0..) used without a `type` in their selection: EXECVE records
    typeless_argv: bool = False


@dataclass(frozen=True)
class RuleAudit:
    """The audit rules assumed for one Sigma rule, and the record conditions they give."""

    mode: str
    #: the assumed audit rules (empty with assume = "all")
    rules: tuple[AuditRule, ...] = ()
    #: where they come from: "configured", "documented", "inferred" or "all"
    origin: str = ASSUME_DOCUMENTED
    #: keys the rule names and their audit rules (documented, configured or well known)
    keys: Mapping[str, tuple[AuditRule, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: why inferred rules were chosen
    why: str = ""
    #: the rule reads syscall records (SYSCALL, EXECVE, PATH ... or a key)
    uses_records: bool = True

    def selected(self) -> Node:
        """Events for which the assumed audit rules write records at all."""
        if self.mode == ASSUME_ALL:
            return Const(True)
        conds = [r.condition for r in self.rules]
        if not conds:
            return Const(False)
        return conds[0] if len(conds) == 1 else Or(tuple(conds))

    def record(self, record_type: str) -> Node:
        """Events that have an auditd record of this type (SYSCALL, EXECVE, PATH ...)."""
        sel = self.selected()
        if record_type in ("SYSCALL", "PROCTITLE"):
            return sel
        if record_type == "EXECVE":
            return And((_types(EXEC_TYPES), sel))
        if record_type in ("PATH", "CWD"):
            return And((_types(PATH_TYPES), sel))
        raise KeyError(record_type)

    def key(self, name: str) -> Node | None:
        """Events the audit rules with key `name` record; None when no rule has the key."""
        rules = self.keys.get(name)
        if not rules:
            return None
        conds = [r.condition for r in rules]
        return conds[0] if len(conds) == 1 else Or(tuple(conds))

    def summary(self) -> str | None:
        """One line for `vigil rules validate` (None when the rule reads no syscall
        records)."""
        if not self.uses_records:
            return None
        if self.mode == ASSUME_ALL:
            return ("auditd: assume = \"all\": every audit rule is taken as configured (a "
                    "SYSCALL record for every syscall, PATH for every path)")
        lines = "; ".join(r.text for r in self.rules)
        if not self.rules:
            return "auditd: no audit rule assumed: the rule's syscall records never match"
        return {
            "configured": f"auditd: assumes the audit rules configured for it: {lines}",
            "documented": f"auditd: assumes the audit rules it documents: {lines}",
            "well-known key": f"auditd: assumes the audit rules of its key: {lines}",
        }.get(self.origin, f"auditd: the rule documents no audit rules; assumes {lines} "
                           f"({self.why})")


def _intent_perms(text: str) -> str:
    low = text.lower()
    out = ""
    for pattern, perms in _INTENT_WORDS:
        if re.search(pattern, low):
            out += "".join(c for c in perms if c not in out)
    return out


def infer_audit_rules(scan: RuleScan) -> tuple[list[AuditRule], str]:
    """The least audit configuration a rule's record types need (see the module doc), and
    a sentence saying why."""
    rules: list[AuditRule] = []
    why: list[str] = []
    types = scan.record_types
    wants_exec = "EXECVE" in types or scan.typeless_argv or (
        bool(types & {"SYSCALL", "PROCTITLE"}) and not scan.syscalls)
    named = set(scan.syscalls)
    if types & {"SYSCALL", "PROCTITLE"}:
        for pattern, calls in _INTENT_SYSCALLS:
            if re.search(pattern, f"{scan.title} {scan.description}".lower()):
                named.update(calls)
                why.append(f"{'/'.join(calls)}: the rule speaks of {pattern!r}")
    if named:
        r = parse_audit_rule(f"-a always,exit -S {','.join(sorted(named))}")
        assert r is not None
        rules.append(r)
    if wants_exec:
        r = parse_audit_rule("-a always,exit -S execve,execveat")
        assert r is not None
        rules.append(r)
        why.append("exec logging: EXECVE records, and the SYSCALL records of a program")
    if types & {"PATH", "CWD"}:
        perms, source = _intent_perms(scan.title), "title"
        if not perms:
            perms, source = _intent_perms(scan.description), "description"
        if not perms:
            perms, source = "wa", "default"
        rules.append(AuditRule(f"-w <the rule's paths> -p {perms}", perm_condition(perms),
                               None, perms))
        why.append(f"a watch -p {perms} on the rule's paths"
                   + (f" (the access its {source} speaks of)" if source != "default" else
                      " (auditd's usual file watch; the rule names no access)"))
    return rules, "; ".join(why)


@dataclass(frozen=True)
class AuditdSettings:
    """`[rules.sigma_auditd]`: how much of auditd's configuration Sigma rules assume."""

    assume: str = ASSUME_DOCUMENTED
    #: Sigma rule id -> the audit rules the host runs for it (replacing its documentation)
    audit_rules: Mapping[str, tuple[AuditRule, ...]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any],
                  key_prefix: str = "rules.sigma_auditd") -> "AuditdSettings":
        """Parse the TOML table; bad entries raise `ConfigError` naming the key."""
        unknown = set(d) - {"assume", "audit_rules"}
        if unknown:
            raise ConfigError(f"{key_prefix}.{sorted(unknown)[0]}",
                              "unknown key (expected assume, audit_rules)")
        assume = d.get("assume", ASSUME_DOCUMENTED)
        if assume not in (ASSUME_DOCUMENTED, ASSUME_ALL):
            raise ConfigError(f"{key_prefix}.assume",
                              f'expected "{ASSUME_DOCUMENTED}" or "{ASSUME_ALL}", not '
                              f"{assume!r}")
        table = d.get("audit_rules", {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{key_prefix}.audit_rules",
                              'expected a table of "<sigma rule id>" = ["-w PATH -p wa", ...]')
        per_rule: dict[str, tuple[AuditRule, ...]] = {}
        for rid, lines in table.items():
            key = f"{key_prefix}.audit_rules.{rid}"
            if isinstance(lines, str):
                lines = [lines]
            if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
                raise ConfigError(key, "expected a list of auditctl rule lines")
            parsed = []
            for line in lines:
                try:
                    r = parse_audit_rule(line)
                except AuditRuleError as exc:
                    raise ConfigError(key, str(exc)) from None
                if r is not None:
                    parsed.append(r)
            per_rule[str(rid)] = tuple(parsed)
        return cls(assume, per_rule)

    def for_rule(self, scan: RuleScan) -> RuleAudit:
        """The audit rules assumed for one Sigma rule."""
        notes: list[str] = []
        documented, problems = parse_audit_rules(f"{scan.definition}\n{scan.description}")
        notes += [f"auditd: documented audit rule not understood: {p}" for p in problems]
        configured = self.audit_rules.get(scan.rule_id)
        own = list(configured) if configured is not None else documented
        keys: dict[str, tuple[AuditRule, ...]] = {}
        extra: list[AuditRule] = []
        for k in sorted(scan.keys):
            mine = tuple(r for r in own if r.key == k)
            if not mine and k in KNOWN_KEYS:
                mine = tuple(r for r in (parse_audit_rule(x) for x in KNOWN_KEYS[k])
                             if r is not None)
                extra += mine
            keys[k] = mine
        for r in (*own, *extra):
            notes += [f"auditd: {n}" for n in r.notes]
        uses = bool(scan.record_types & AUDITED_RECORDS or scan.keys or scan.typeless_argv)
        if self.assume == ASSUME_ALL:
            return RuleAudit(ASSUME_ALL, (), ASSUME_ALL, keys, tuple(notes),
                             uses_records=uses)
        why = ""
        if configured is not None:
            rules, origin = [*own, *extra], "configured"
        elif own:
            rules, origin = [*own, *extra], "documented"
        elif extra:
            rules, origin = extra, "well-known key"
        else:
            rules, why = infer_audit_rules(scan)
            origin = "inferred"
        return RuleAudit(ASSUME_DOCUMENTED, tuple(rules), origin, keys, tuple(notes), why,
                         uses)
