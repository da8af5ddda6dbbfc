"""The story of one recorded incident, as `vigil incidents show ID` draws it.

Everything comes from the audit trail: the incident's latest lifecycle record, the
detections recorded with its id (with their evidence events), and the suppressed
detections of the same story (shown dimmed, with the reason they were suppressed). The
processes of the evidence form a tree (by pid *and* start time, parents taken from each
event's ancestry), each with its detections and what it was seen doing: programs it ran,
files, connections, log lines. A timeline lists every detection in order.

All text from events goes through `safe_text` and is given to rich as plain `Text`, so
neither escape sequences nor rich markup in a command line can change the display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console, Group
from rich.text import Text
from rich.tree import Tree

from vigil.audit.query import QueryStats, RecordFilter, iter_records
from vigil.audit.record import DETECTION, INCIDENT, SUPPRESSED, AuditRecord
from vigil.incidents.render import counts_text, rfc3339
from vigil.incidents.story import MAX_LINEAGE, SERVICE_ROOTS
from vigil.terminal import safe_text

#: evidence lines shown per process
_MAX_FACTS = 8
#: a long timeline shows this many detections at each end
_TIMELINE_ENDS = 20


class StoryError(Exception):
    """The incident cannot be shown (unknown or ambiguous id); the message says why."""


@dataclass
class ProcNode:
    """One process of the story."""

    key: tuple
    pid: int | None
    name: str
    cmdline: str
    user: str | None
    parent: tuple | None
    #: True for an ancestor shown only to place the story (no evidence of its own)
    context: bool = False
    detections: list[dict[str, Any]] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    children: list[tuple] = field(default_factory=list)


@dataclass
class Story:
    """What the trail knows of one incident."""

    incident: dict[str, Any]
    detections: list[AuditRecord]
    suppressed: list[AuditRecord]
    processes: dict[tuple, ProcNode]
    roots: list[tuple]
    #: detections with no process of this host (log lines): shown apart
    orphans: list[dict[str, Any]] = field(default_factory=list)
    #: programs started in the story beyond what the incident lists
    more_activity: int = 0


def load_story(path: str | Path, ident: str) -> Story:
    """Read the trail at `path` and gather the incident whose id starts with `ident`."""
    ident = ident.strip().lower()
    if not ident:
        raise StoryError("give an incident id (or its first characters)")
    docs: dict[str, dict[str, Any]] = {}
    dets: dict[str, list[AuditRecord]] = {}
    sups: dict[str, list[AuditRecord]] = {}
    types = frozenset({INCIDENT, DETECTION, SUPPRESSED})
    for rec in iter_records(path, RecordFilter(types=types), QueryStats()):
        iid = rec.incident_id
        if not iid or not iid.startswith(ident):
            continue
        if rec.type == INCIDENT and isinstance(rec.incident, dict):
            old = docs.get(iid)
            if old is None or rec.incident.get("version", 0) >= old.get("version", 0):
                docs[iid] = rec.incident
        elif rec.type == DETECTION:
            dets.setdefault(iid, []).append(rec)
        else:
            sups.setdefault(iid, []).append(rec)
    if not docs:
        raise StoryError(f"no incident {ident!r} in the audit trail")
    if len(docs) > 1:
        raise StoryError(f"{ident!r} names {len(docs)} incidents: "
                         + ", ".join(sorted(i[:12] for i in docs)) + "; give more characters")
    iid, doc = next(iter(docs.items()))
    story = Story(incident=doc, detections=dets.get(iid, []), suppressed=sups.get(iid, []),
                  processes={}, roots=[])
    _build_tree(story)
    return story


def _proc_key(p: dict[str, Any]) -> tuple:
    return (p.get("pid"), p.get("start_ts"))


def _cmdline(p: dict[str, Any]) -> str:
    name = p.get("name") or "?"
    args = p.get("args") or []
    return " ".join([name, *map(str, args)]) if args else name


def _add_proc(story: Story, p: dict[str, Any], *, context: bool) -> tuple:
    key = _proc_key(p)
    parent = p.get("parent")
    node = story.processes.get(key)
    if node is None:
        node = ProcNode(key=key, pid=p.get("pid"), name=p.get("name") or "?",
                        cmdline=_cmdline(p), user=p.get("user"),
                        parent=_proc_key(parent) if isinstance(parent, dict) else None,
                        context=context)
        story.processes[key] = node
    elif not context:
        node.context = False
    return key


def _fact(ev: dict[str, Any]) -> str | None:
    """What one evidence event shows the process doing, in a few words."""
    etype = ev.get("type", "")
    args = ev.get("args") or {}
    fd = ev.get("fd") or {}
    if ev.get("source", "syscall") != "syscall":
        return f"log: {ev.get('raw') or etype}"
    if etype in ("execve", "execveat"):
        return f"exec: {_cmdline(ev.get('proc') or {})}"
    if etype in ("connect", "accept", "accept4", "sendto", "sendmsg"):
        if fd.get("rip") is not None:
            return f"{etype}: {fd.get('rip')}:{fd.get('rport')}"
    if etype in ("dup", "dup2", "dup3") and fd.get("type") in ("ipv4", "ipv6"):
        return f"{etype}: socket {fd.get('rip')}:{fd.get('rport')} onto fd {ev.get('res')}"
    name = fd.get("name") or args.get("name") or args.get("path") or args.get("newpath")
    if name:
        return f"{etype}: {name}"
    return etype or None


def _build_tree(story: Story) -> None:
    for rec, suppressed in [(r, False) for r in story.detections] + \
                           [(r, True) for r in story.suppressed]:
        det = rec.detection or {}
        entry = {"record": rec, "suppressed": suppressed, "detection": det}
        subject = None
        for ev in det.get("evidence") or []:
            if not isinstance(ev, dict):
                continue
            p = ev.get("proc") or {}
            if ev.get("source", "syscall") != "syscall" or p.get("pid") is None:
                continue
            subject = _add_proc(story, p, context=False)
            node = story.processes[subject]
            fact = _fact(ev)
            if fact and fact not in node.facts and len(node.facts) < _MAX_FACTS:
                node.facts.append(fact)
            # the ancestry places the story; service roots (init, sshd's listener, cron)
            # are where it stops
            anc, depth = p.get("parent"), 0
            while isinstance(anc, dict) and depth < MAX_LINEAGE:
                if (anc.get("pid") or 0) <= 1 or anc.get("name") in SERVICE_ROOTS:
                    break
                _add_proc(story, anc, context=True)
                anc, depth = anc.get("parent"), depth + 1
        if subject is None:
            story.orphans.append(entry)
        else:
            story.processes[subject].detections.append(entry)
    # what ran in the story's process tree without being flagged: the attacker's commands
    for a in story.incident.get("activity") or []:
        if not isinstance(a, dict) or a.get("pid") is None:
            continue
        key = (a.get("pid"), a.get("start_ts"))
        node = story.processes.get(key)
        if node is None:
            node = ProcNode(key=key, pid=a.get("pid"), name=a.get("name") or "?",
                            cmdline=a.get("cmdline") or "", user=a.get("user"),
                            parent=(a.get("ppid"), a.get("parent_start_ts")))
            story.processes[key] = node
        node.context = False
        # the label names what the process became (`bash -i`, not the `bash -c` it was)
        node.name = a.get("name") or node.name
        node.cmdline = a.get("cmdline") or node.cmdline
        fact = f"exec: {a.get('cmdline') or a.get('name')}"
        if fact not in node.facts and len(node.facts) < _MAX_FACTS:
            node.facts.append(fact)
    if story.incident.get("activity_not_listed"):
        story.more_activity = int(story.incident["activity_not_listed"])
    _trim_context(story)
    for key, node in story.processes.items():
        if node.parent in story.processes:
            story.processes[node.parent].children.append(key)
    story.roots = [k for k, n in story.processes.items() if n.parent not in story.processes]


def _trim_context(story: Story) -> None:
    """Keep the ancestors that join branches of the story or start it (the shell that ran
    the first process with evidence); drop the chain above them."""
    procs = story.processes
    while True:
        kids: dict[tuple, list[tuple]] = {}
        for k, n in procs.items():
            kids.setdefault(n.parent, []).append(k)
        drop = [k for k, n in procs.items()
                if n.context and n.parent not in procs and len(kids.get(k, [])) == 1
                and procs[kids[k][0]].context]
        if not drop:
            return
        for k in drop:
            del procs[k]


def _grouped(entries: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Identical detections (same rule, same fate) once, with their count; the latest
    one speaks for the group."""
    groups: dict[tuple, list] = {}
    for e in entries:
        d = e["detection"]
        key = (d.get("name"), d.get("rule_id"), e["suppressed"])
        if key in groups:
            groups[key][0] = e
            groups[key][1] += 1
        else:
            groups[key] = [e, 1]
    return [(e, n) for e, n in groups.values()]


def _det_line(entry: dict[str, Any], count: int = 1) -> Text:
    rec: AuditRecord = entry["record"]
    det = entry["detection"]
    name = det.get("name", "?")
    if det.get("rule_id") and det.get("kind") != "falco":
        name = det["rule_id"] if det.get("kind") == "detector" else f"{name} ({det['rule_id']})"
    times = f" ×{count}" if count > 1 else ""
    text = Text(f"● {rec.priority or '?'} {safe_text(name)}{times}: "
                f"{safe_text(rec.output or '')}")
    if entry["suppressed"]:
        s = rec.suppression or {}
        why = f" [suppressed by {s.get('layer')}: {s.get('entry')}"
        why += f" — {s['reason']}]" if s.get("reason") else "]"
        text.append(safe_text(why))
        text.stylize("dim")
    return text


def _proc_label(node: ProcNode) -> Text:
    who = ", ".join(x for x in (f"pid {node.pid}" if node.pid is not None else "",
                               node.user or "") if x)
    label = Text(safe_text(f"{node.name} ({who})"), style="bold" if not node.context else "")
    if node.cmdline and node.cmdline != node.name:
        label.append("  " + safe_text(node.cmdline))
    return label


def _add_node(tree: Tree, story: Story, key: tuple, seen: set[tuple]) -> None:
    if key in seen:
        return
    seen.add(key)
    node = story.processes[key]
    branch = tree.add(_proc_label(node))
    for entry, n in _grouped(node.detections):
        branch.add(_det_line(entry, n))
    for fact in node.facts:
        branch.add(Text(safe_text(fact), style="cyan"))
    for child in sorted(node.children, key=lambda k: (k[1] or 0, k[0] or 0)):
        _add_node(branch, story, child, seen)


def _header(doc: dict[str, Any]) -> list[Text]:
    status = doc.get("status", "?")
    if doc.get("closed_reason"):
        status += f": {doc['closed_reason']}"
    first = (rfc3339(doc.get("first_ts")) or "-")[:19] + "Z"
    last = (rfc3339(doc.get("last_ts")) or "-")[:19] + "Z"
    lines = [Text(safe_text(f"Incident {doc.get('id', '?')}  {doc.get('priority', '?')}  "
                            f"{doc.get('title', '')}  [{status}]"), style="bold"),
             Text(safe_text(f"host {doc.get('host') or '?'} · {first} → {last} · "
                            f"{_counts(doc)}"))]
    ents = doc.get("entities") or {}
    facts = []
    for label, k in (("remote", "remote_ips"), ("users", "users"), ("files", "files"),
                     ("sessions", "sessions")):
        if ents.get(k):
            facts.append(f"{label} " + ", ".join(map(str, ents[k][:8])))
    if facts:
        lines.append(Text(safe_text(" · ".join(facts))))
    if doc.get("tactics") or doc.get("techniques"):
        lines.append(Text(safe_text("ATT&CK " + ", ".join(doc.get("tactics") or [])
                                    + (" · " if doc.get("tactics") else "")
                                    + ", ".join(doc.get("techniques") or []))))
    return lines


def _counts(doc: dict[str, Any]) -> str:
    from vigil.incidents.model import DetectionGroup, Entities, Incident, ProcessRef
    try:
        inc = Incident(id=doc.get("id", ""), detection_count=int(doc.get("detection_count", 0)),
                       unit=doc.get("unit") or "detections",
                       detections=tuple(DetectionGroup(kind="x", name=str(i))
                                        for i, _ in enumerate(doc.get("detections") or [])),
                       entities=Entities(processes=tuple(
                           ProcessRef() for _ in (doc.get("entities") or {}).get("processes")
                           or []), remote_ips=tuple((doc.get("entities") or {})
                                                    .get("remote_ips") or [])))
        return counts_text(inc)
    except (TypeError, ValueError):
        return f"{doc.get('detection_count', '?')} detections"


def _timeline(story: Story) -> list[Text]:
    entries = [(r, False) for r in story.detections] + [(r, True) for r in story.suppressed]
    entries.sort(key=lambda e: (e[0].ts or e[0].at_ns, e[0].seq))
    out = []
    hidden = 0
    if len(entries) > 2 * _TIMELINE_ENDS + 1:
        hidden = len(entries) - 2 * _TIMELINE_ENDS
        entries = entries[:_TIMELINE_ENDS] + [None] + entries[-_TIMELINE_ENDS:]
    for item in entries:
        if item is None:
            out.append(Text(f"… {hidden} more", style="dim"))
            continue
        rec, suppressed = item
        when = (rfc3339(rec.ts or rec.at_ns) or "-")[11:23]
        line = Text(safe_text(f"{when} {rec.priority or '?':<8} "
                              f"{(rec.detection or {}).get('name', rec.key or '?')}: "
                              f"{rec.output or ''}"))
        if suppressed:
            s = rec.suppression or {}
            line.append(safe_text(f" [suppressed: {s.get('entry')}]"))
            line.stylize("dim")
        out.append(line)
    return out


def story_renderable(story: Story) -> Group:
    """The story as rich renderables: header, process tree, log-only detections,
    timeline."""
    parts: list[Any] = _header(story.incident)
    if story.roots:
        tree = Tree(Text("Process tree", style="bold"), guide_style="dim")
        seen: set[tuple] = set()
        for root in sorted(story.roots, key=lambda k: (k[1] or 0, k[0] or 0)):
            _add_node(tree, story, root, seen)
        if story.more_activity:
            tree.add(Text(f"… {story.more_activity} more programs started", style="dim"))
        parts += [Text(""), tree]
    if story.orphans:
        logs = Tree(Text("From logs", style="bold"), guide_style="dim")
        for entry, n in _grouped(story.orphans):
            leaf = logs.add(_det_line(entry, n))
            for ev in (entry["detection"].get("evidence") or [])[-3:]:
                if isinstance(ev, dict) and ev.get("raw"):
                    leaf.add(Text(safe_text(ev["raw"]), style="cyan"))
        parts += [Text(""), logs]
    timeline = _timeline(story)
    if timeline:
        parts += [Text(""), Text("Timeline", style="bold"), *timeline]
    return Group(*parts)


def print_story(story: Story, console: Console | None = None) -> None:
    """Print the story (plain text when the output is not a terminal)."""
    if console is None:
        import sys
        # a pipe or a file gets whole lines, never cut at 80 columns
        console = Console(highlight=False, soft_wrap=True,
                          width=None if sys.stdout.isatty() else 1000)
    console.print(story_renderable(story))


def story_document(story: Story) -> dict[str, Any]:
    """The story as JSON: the incident, its detection records and the process tree."""
    def node_doc(key: tuple) -> dict[str, Any]:
        n = story.processes[key]
        return {"pid": n.pid, "start_ts": key[1], "name": n.name, "cmdline": n.cmdline,
                "user": n.user, "context": n.context, "facts": n.facts,
                "detections": [{"name": e["detection"].get("name"),
                                "rule_id": e["detection"].get("rule_id"),
                                "priority": e["record"].priority, "output": e["record"].output,
                                "suppressed": e["record"].suppression if e["suppressed"]
                                else None} for e in n.detections],
                "children": [node_doc(k) for k in n.children]}

    import msgspec
    return {"incident": story.incident,
            "tree": [node_doc(k) for k in story.roots],
            "detections": [msgspec.to_builtins(r) for r in story.detections],
            "suppressed": [msgspec.to_builtins(r) for r in story.suppressed]}


def incident_rows(docs: Iterable[dict[str, Any]]) -> list[str]:
    """One line per incident for `vigil incidents` (safe for a terminal)."""
    out = []
    for d in docs:
        first = (rfc3339(d.get("first_ts")) or "-")[:19] + "Z"
        status = d.get("status", "?")
        ents = d.get("entities") or {}
        root = ents.get("root") or {}
        subject = (f"{root.get('name')} (pid {root.get('pid')})" if root
                   else ", ".join((ents.get("remote_ips") or [])[:2]) or "")
        out.append(safe_text(f"{d.get('id', '?')[:8]}  {first}  {status:<6} "
                             f"{d.get('priority', '?'):<8} {d.get('title', '')}  "
                             f"[{_counts(d)}]" + (f"  {subject}" if subject else "")))
    return out
