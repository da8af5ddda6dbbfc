"""Rule-derived kernel filters: which read-only opens, and which writes of the compiler
toolchain, the loaded rules and detectors can need.

Read-only opens are most of the events a host makes and few rules care about them. From
each rule's condition tree (Falco and Sigma share it, see `vigil.rules.ast`) we derive a
*necessary* condition on the opened path: the rule can only match a read-only open whose
path is one of some exact paths or under some prefixes, or it can match any (the rule is
then "unreducible" and says why). The union over every rule and detector is what the
kernel must still send: when nothing is unreducible, the eBPF sensor loads the exact paths
and prefixes into an LPM trie and drops every other read-only open (absolute, normalised
path, not high-value) before anything crosses to user space. Conservative by
construction: an `and` keeps the narrowest child's need, an `or` the union of its
children's, a negation or a test this module does not understand needs everything.

The kernel always sends a read-only open whose path is relative, longer than it compares,
or contains "/.", "//" or ".." (user space resolves those, and rules look for traversals):
a test that only such paths can pass (`fd.nameraw contains "../"`, a pattern under a
hidden directory such as `*/.ssh/id_*`) needs nothing more.

Detectors declare their need with a class attribute `kernel_read_paths`: a tuple of path
patterns (exact paths, prefixes ending with "/", shell-style globs), `()` for none; a
detector without it needs every read-only open (`kernel_read_reason` says why).

Relative names: the kernel compares a relative read-only open (or toolchain write) by its
working directory instead. User space marks, per directory it sees such opens in, whether
any wanted path can lie under it (`quiet_bits`); in a directory no wanted path can lie
under, only the name's ending is compared (as "/" + name). A name with "..", "//", a
component starting with "." or more bytes than the kernel compares is always sent.

Writes (`plan_writes`): opens for writing, `creat`, `unlink` and `unlinkat` by the
compiler toolchain's programs (`vigil.events.toolchain`: cc1, as, the gcc/clang drivers,
found by executable inode) cross only when their path is one a rule or detector can need.
Detectors declare that need with `kernel_write_paths` (same patterns); those that judge
no toolchain write at all (a compiler's objects are no ransomware, no download, no copied
key) declare `()` and ignore such writers in their own logic too, so that the result is
the same with and without the filter. Every other process's writes always cross.

`vigil rules validate --kernel-filters` prints `explain()`: per rule and detector, what it
costs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from vigil.events.toolchain import is_toolchain_binary
from vigil.rules.ast import And, Compare, Const, FieldRef, ListValue, Node, Not, Or, Value
from vigil.rules.evttypes import possible_types
from vigil.sensors.ebpf.lanes import SUFFIX_MAX_BYTES, ReadFilter

#: open flags that make an open not read-only for the kernel filter (O_WRONLY, O_RDWR,
#: O_CREAT, O_TRUNC)
READ_ONLY_EXCLUDED = 0o3 | 0o100 | 0o1000
#: the longest path (with its NUL) the kernel compares (vigil.bpf.c: PRIO_PATH_MAX)
KERNEL_PATH_MAX = 128
#: the event types a read-only open is reported as
OPEN_TYPES = frozenset({"open", "openat", "openat2"})
#: the event types of the writes the toolchain filter judges (openat2 is always sent)
WRITE_TYPES = frozenset({"open", "openat", "creat", "unlink", "unlinkat"})
#: fields whose value is the opened path as the decoder reports it (fd.nameraw: the string
#: the process passed, which the kernel compares too)
_NAME_FIELDS = frozenset({"fd.name", "fd.nameraw", "evt.arg.name", "evt.arg.path",
                          "evt.rawarg.name"})
_DIR_FIELDS = frozenset({"fd.directory"})
_PATH_FIELDS = _NAME_FIELDS | _DIR_FIELDS | frozenset({"fd.filename", "evt.arg.name",
                                                       "evt.arg.path", "evt.rawarg.name"})
#: the open flags as a number (unlinkat's flags too: 0 or AT_REMOVEDIR)
_FLAG_FIELDS = frozenset({"evt.rawarg.flags"})


def _never_a_write_flag(text: str) -> bool:
    """Whether flags equal to `text` can belong to no open for writing and no unlinkat
    (ld.so's O_RDONLY|O_CLOEXEC)."""
    try:
        value = int(text, 0)
    except ValueError:
        return False
    return not value & READ_ONLY_EXCLUDED and value not in (0, 0x200)


#: tests that a read-only open always fails (so the branch needs no read-only open)
_NEVER_FOR_READS = {("evt.is_open_write", "true"), ("evt.is_open_read", "false"),
                    ("evt.is_open_create", "true")}
#: tests that a read-only open always passes
_ALWAYS_FOR_READS = {("evt.is_open_read", "true"), ("evt.is_open_write", "false"),
                     ("evt.is_open_create", "false")}


@dataclass(frozen=True)
class PathNeed:
    """The read-only opens something can need: every one (`everything`, with `why`), or
    those whose path is in `exact` or starts with one of `prefixes`."""

    everything: bool = False
    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    suffixes: frozenset[str] = frozenset()
    why: str = ""

    @property
    def nothing(self) -> bool:
        """True when no read-only open can matter."""
        return not (self.everything or self.exact or self.prefixes or self.suffixes)

    def size(self) -> int:
        """How many entries the kernel would hold (everything: unbounded)."""
        return 1 << 30 if self.everything else len(self.exact) + len(self.prefixes) + len(
            self.suffixes)

    def breadth(self) -> tuple[int, int]:
        """For choosing the narrowest need: a prefix lets more through than a path."""
        return (len(self.suffixes), len(self.prefixes), len(self.exact))

    def __or__(self, other: "PathNeed") -> "PathNeed":
        if self.everything or other.everything:
            return self if self.everything else other
        return PathNeed(exact=self.exact | other.exact, prefixes=self.prefixes | other.prefixes,
                        suffixes=self.suffixes | other.suffixes)

    def describe(self, what: str = "read-only open") -> str:
        """One phrase: what this need costs."""
        if self.everything:
            return f"every {what} crosses to user space" + (
                f" ({self.why})" if self.why else "")
        if self.nothing:
            return f"no {what}"
        parts = []
        if self.exact:
            parts.append(f"{len(self.exact)} exact path{'s' if len(self.exact) > 1 else ''}")
        if self.prefixes:
            parts.append(f"{len(self.prefixes)} prefix{'es' if len(self.prefixes) > 1 else ''}")
        if self.suffixes:
            parts.append(f"{len(self.suffixes)} file name ending"
                         f"{'s' if len(self.suffixes) > 1 else ''}")
        return f"{what}s of " + " and ".join(parts)


ANY = PathNeed(everything=True)
NOTHING = PathNeed()


@dataclass(frozen=True)
class Kind:
    """What a plan filters: the event types, the tests that always fail or always pass for
    those events, the detector attribute declaring their need, and the words for it."""

    types: frozenset[str]
    never: frozenset[tuple[str, str]]
    always: frozenset[tuple[str, str]]
    attribute: str
    what: str
    noun: str


READS = Kind(OPEN_TYPES, frozenset(_NEVER_FOR_READS), frozenset(_ALWAYS_FOR_READS),
             "kernel_read_paths", "read-only open", "reads")
#: opens for writing and unlinks: no flag test is certain for both
WRITES = Kind(WRITE_TYPES, frozenset(), frozenset(), "kernel_write_paths", "toolchain write",
              "toolchain writes")


def _any(why: str) -> PathNeed:
    return PathNeed(everything=True, why=why)


#: substrings a path must have for the kernel to send it whatever the filter says
ALWAYS_SENT = ("/.", "//", "..")


def always_sent(path: str) -> bool:
    """Whether the kernel sends a read-only open of this path whatever the filter says."""
    return (not path.startswith("/") or len(path.encode()) + 1 > KERNEL_PATH_MAX
            or any(s in path for s in ALWAYS_SENT))


def pattern_need(pattern: str) -> PathNeed:
    """The read-only opens a path pattern can match: an exact path, a prefix (ending with
    "/"), or a shell-style glob (reduced to the prefix before its first wildcard, or to a
    file name ending for `*<suffix>`)."""
    wild = [i for i, ch in enumerate(pattern) if ch in "*?["]
    if not wild:
        if pattern.endswith("/"):
            return PathNeed(prefixes=frozenset({pattern}))
        return NOTHING if always_sent(pattern) else PathNeed(exact=frozenset({pattern}))
    head = pattern[:wild[0]]
    literals = re.split(r"[*?]|\[[^\]]*\]", pattern)
    if any("/." in lit or ".." in lit for lit in literals):
        return NOTHING  # every path it matches has "/." or "..": always sent
    if head.startswith("/"):
        return PathNeed(prefixes=frozenset({head}))
    if len(wild) == 1 and wild[0] == 0 and pattern[0] == "*" and len(pattern) > 1:
        return PathNeed(suffixes=frozenset({pattern[1:]}))
    return _any(f"the pattern {pattern} has no fixed prefix or ending")


def _values(c: Compare) -> list[str] | None:
    v = c.value
    if isinstance(v, Value) and c.quantifier is None:
        return [v.text]
    if isinstance(v, ListValue) and c.op in ("in", "pmatch", "intersects"):
        return [i.text for i in v.items]
    return None


def _compare(c: Compare, positive: bool, kind: Kind) -> PathNeed:
    f = c.field
    if not isinstance(f, FieldRef):
        return ANY
    name = f.name
    vals = _values(c)
    text = vals[0].lower() if vals and len(vals) == 1 else None
    if name == "evt.type" and not f.transformers:
        types = possible_types(c, positive)
        if not types.negated and not types.types & kind.types:
            return NOTHING
        if types.negated and kind.types <= types.types:
            return NOTHING
        return ANY
    if text is not None and c.op in ("=", "==") and not f.transformers:
        if (name, text) in (kind.never if positive else kind.always):
            return NOTHING
    if kind is WRITES and positive and name in _FLAG_FIELDS and c.op in ("=", "==") \
            and text is not None and not f.transformers and _never_a_write_flag(text):
        return NOTHING
    if name not in _PATH_FIELDS:
        return ANY
    shown = f"{name} {c.op}"
    if not positive:
        return _any(f"a negated path test: not {shown} ...")
    if f.transformers or f.arg is not None or vals is None:
        return _any(f"{shown} with a transformer or a field value")
    if name in _NAME_FIELDS and c.op in ("contains", "glob") and all(
            ".." in v or (c.op == "contains" and ("/." in v or "//" in v)) for v in vals):
        return NOTHING  # only paths the kernel always sends can pass
    if name == "fd.filename" and c.op in ("=", "==", "in"):
        # a file name: the path ends with "/<name>" (a hidden file's always crosses)
        if any("/" in v or not v for v in vals):
            return _any(f"{shown} a value with a slash")
        return PathNeed(suffixes=frozenset(f"/{v}" for v in vals
                                           if not always_sent(f"/x/{v}")))
    if name in _NAME_FIELDS and c.op == "endswith":
        # a path ending: compared in the kernel as a file name ending (16 at most)
        if any(not v or len(v.encode()) > SUFFIX_MAX_BYTES for v in vals):
            return _any(f"{shown} an empty or long ending")
        return PathNeed(suffixes=frozenset(vals))
    if not all(v.startswith("/") for v in vals):
        return _any(f"{shown} a relative value")
    if name in _NAME_FIELDS:
        if c.op in ("=", "==", "in"):
            return PathNeed(exact=frozenset(vals))
        if c.op == "startswith":
            return PathNeed(prefixes=frozenset(vals))
        if c.op == "pmatch":
            return PathNeed(exact=frozenset(vals),
                            prefixes=frozenset(v.rstrip("/") + "/" for v in vals))
    if name in _DIR_FIELDS:
        if c.op in ("=", "==", "in", "pmatch"):
            return PathNeed(prefixes=frozenset(v.rstrip("/") + "/" for v in vals))
        if c.op == "startswith":
            return PathNeed(prefixes=frozenset(vals))
    return _any(f"{shown} ...: no fixed prefix")


def _all_of(children: Iterable[Node], positive: bool, kind: Kind) -> PathNeed:
    """Every child must evaluate to `positive`: the narrowest child's need holds."""
    best: PathNeed | None = None
    why = ""
    for c in children:
        n = path_need(c, positive, kind)
        if n.nothing:
            return NOTHING
        if n.everything:
            why = why or n.why
            continue
        if best is None or n.breadth() < best.breadth():
            best = n
    return best if best is not None else _any(why)


def _any_of(children: Iterable[Node], positive: bool, kind: Kind) -> PathNeed:
    """Some child evaluates to `positive`: the union of their needs."""
    out = NOTHING
    for c in children:
        out = out | path_need(c, positive, kind)
        if out.everything:
            return out
    return out


def path_need(node: Node, positive: bool = True, kind: Kind = READS) -> PathNeed:
    """The events of `kind` for which `node` can evaluate to `positive`."""
    if isinstance(node, Compare):
        return _compare(node, positive, kind)
    if isinstance(node, Const):
        return ANY if node.value == positive else NOTHING
    if isinstance(node, Not):
        return path_need(node.child, not positive, kind)
    if isinstance(node, And):
        return (_all_of if positive else _any_of)(node.children, positive, kind)
    if isinstance(node, Or):
        return (_any_of if positive else _all_of)(node.children, positive, kind)
    return ANY


def read_need(node: Node, positive: bool = True) -> PathNeed:
    """The read-only opens for which `node` can evaluate to `positive`."""
    return path_need(node, positive, READS)


@dataclass(frozen=True)
class Consumer:
    """One rule or detector and what it needs."""

    kind: str            # "falco", "sigma" or "detector"
    name: str
    need: PathNeed


@dataclass
class ReadFilterPlan:
    """What the kernel must still send of the read-only opens (or, for `WRITES`, of the
    toolchain's writes), and who decided it."""

    consumers: list[Consumer] = field(default_factory=list)
    kind: Kind = READS

    @property
    def need(self) -> PathNeed:
        """The union of every consumer's need."""
        out = NOTHING
        for c in self.consumers:
            out = out | c.need
        return out

    def kernel_paths(self) -> ReadFilter | None:
        """What the kernel must send, or None: no filter (some consumer needs every
        event of the kind, or the need does not fit the kernel's maps)."""
        need = self.need
        if need.everything:
            return None
        rf = ReadFilter(tuple(sorted(need.exact)), tuple(sorted(need.prefixes)),
                        tuple(sorted(need.suffixes)))
        return rf if rf.fits() else None

    def keeps(self, event: Any) -> bool:
        """Whether the kernel filter lets a recorded event through (replays compare what
        the rules report with and without it). Stricter than the kernel: a recording holds
        the resolved path, where the kernel sees the string the process passed and lets
        relative and unnormalised ones through."""
        kp = self.kernel_paths()
        if kp is None or event.type not in self.kind.types:
            return True
        path = event.args.get("name", event.args.get("path"))
        if not isinstance(path, str):
            return True
        flags = event.args.get("flags")
        if self.kind is READS:
            if event.type not in ("open", "openat"):
                return True
            if not isinstance(flags, int) or flags & READ_ONLY_EXCLUDED:
                return True
        else:
            if event.type in ("open", "openat") and (
                    not isinstance(flags, int) or not flags & READ_ONLY_EXCLUDED):
                return True
            if not is_toolchain_binary(event.proc.exepath):
                return True
        if always_sent(path):
            return True
        return (path in kp.exact or path.startswith(kp.prefixes)
                or path.endswith(kp.suffixes))

    def blockers(self) -> list[Consumer]:
        """The consumers that make every event of the kind cross to user space."""
        return [c for c in self.consumers if c.need.everything]

    def explain(self) -> list[str]:
        """One line per rule or detector that needs events of the kind, then the verdict."""
        what = self.kind.what
        lines = [f"{c.kind} {c.name!r}: {c.need.describe(what)}" for c in self.consumers
                 if not c.need.nothing]
        kp = self.kernel_paths()
        if kp is None:
            names = ", ".join(f"{c.kind} {c.name!r}" for c in self.blockers()[:5])
            more = len(self.blockers()) - 5
            lines.append(f"kernel filter for {what}s: off — {names}"
                         + (f" and {more} more" if more > 0 else "")
                         + (" needs" if len(self.blockers()) == 1 else " need")
                         + f" every {what}")
        else:
            rest = ("every other absolute, normal read-only open stays in the kernel"
                    if self.kind is READS else
                    "every other write or unlink by a compiler toolchain program stays in "
                    "the kernel (other programs' writes always cross)")
            lines.append(f"kernel filter for {what}s: on — {len(kp.exact)} exact "
                         f"paths, {len(kp.prefixes)} prefixes and {len(kp.suffixes)} file "
                         f"name endings cross to user space; {rest}")
        return lines


def quiet_bits(directory: str, reads: ReadFilter | None, writes: ReadFilter | None
               ) -> tuple[int, int]:
    """For the kernel's `quiet_dirs`: (bits, longest relative name with its NUL) of a
    working directory. Bit 1: no path `reads` wants can lie under it; bit 2: the same for
    `writes`. (0, 0) when the directory's own path is one the kernel always sends (hidden,
    unnormalised) or too long for a name to follow."""
    d = directory.rstrip("/")
    if not d.startswith("/") or always_sent(d + "/x"):
        return 0, 0
    room = KERNEL_PATH_MAX - len(d.encode()) - 1   # the slash, then the name and its NUL
    if room < 2:
        return 0, 0
    under = d + "/"
    bits = 0
    for bit, f in ((1, reads), (2, writes)):
        if f is None:
            continue
        entries = [p + "\0" for p in f.exact] + list(f.prefixes)
        if not any(under.startswith(e) or e.startswith(under) for e in entries):
            bits |= bit
    return bits, min(room, 255)


def _rule_need(types_may_match: bool, condition: Node, kind: Kind) -> PathNeed:
    return path_need(condition, True, kind) if types_may_match else NOTHING


def _plan(falco: Any | None, sigma: Any | None, detectors: Iterable[Any],
          kind: Kind) -> ReadFilterPlan:
    plan = ReadFilterPlan(kind=kind)
    types = kind.types
    if falco is not None:
        for r in getattr(falco, "enabled_rules", None) or getattr(falco, "rules", ()):
            if r.source != "syscall":
                continue
            ts = r.compiled.types
            may = (bool(types - ts.types) if ts.negated else bool(types & ts.types))
            plan.consumers.append(Consumer("falco", r.name, _rule_need(may, r.condition, kind)))
    if sigma is not None:
        for r in getattr(sigma, "rules", ()):
            route = getattr(r, "route", None)
            if route is not None and not any(route.applies("syscall", t) for t in types):
                continue
            rtypes = getattr(r, "event_types", None)
            may = rtypes is None or bool(types & set(rtypes))
            plan.consumers.append(Consumer("sigma", getattr(r, "title", str(r)),
                                           _rule_need(may, r.condition, kind)))
    for d in detectors:
        if not types & set(d.event_types):
            continue
        declared = getattr(d, kind.attribute, None)
        if declared is None:
            need = _any(getattr(d, kind.attribute.replace("_paths", "_reason"), None)
                        or f"the detector does not say which {kind.noun} it needs")
        else:
            need = NOTHING
            for pattern in declared:
                need = need | pattern_need(pattern)
        plan.consumers.append(Consumer("detector", d.name, need))
    return plan


def plan_reads(falco: Any | None, sigma: Any | None, detectors: Iterable[Any]) -> ReadFilterPlan:
    """The read-only opens the loaded Falco rule set, Sigma engine and detectors (any may be
    absent) can need. Only syscall rules count; disabled rules do not."""
    return _plan(falco, sigma, detectors, READS)


def plan_writes(falco: Any | None, sigma: Any | None, detectors: Iterable[Any]
                ) -> ReadFilterPlan:
    """The writes and unlinks of the compiler toolchain's programs the same can need."""
    return _plan(falco, sigma, detectors, WRITES)
