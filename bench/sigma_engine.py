"""Benchmark: SigmaHQ's Linux rules on generated events, Vigil's engine vs. the SQLite way.

Run:  .venv/bin/python bench/sigma_engine.py [--events 1000000] [--sqlite-events 100000]

1. Vigil: all Linux rules loaded with `load_sigma_paths`, `SigmaEngine.on_event` on every
   event (the mix is documented in `bench/sigma_events.py`); prints events/s.
2. The approach Zircolite uses (today's usual Python way): events flattened into an
   in-memory SQLite table whose columns are Sigma field names (TEXT COLLATE NOCASE, as
   Zircolite declares them), each rule converted once by `pysigma-backend-sqlite` into a
   query, every query run over the table. Flattening uses the same field mapping and
   logsource routing as Vigil, so both sides see the same field values; each query is
   restricted to its logsource's rows (an indexed column), which only helps SQLite.
   auditd rows are the records of every syscall (SYSCALL, EXECVE, PATH ...) with, in an
   `audit_rules` column, the auditd Sigma rules whose assumed audit rules record the event
   (computed before the timed pass: on a real host auditd does that work), and each auditd
   query is restricted to its own rows, as Vigil's per-rule record conditions are.
   Because it is slow, this pass runs on the first `--sqlite-events` events and its rate
   is compared as events/s (the output says so).
3. Matches: for the rules both sides compile, the (event, rule) matches on the SQLite
   subset must be identical; differences are printed.

`pysigma-backend-sqlite` is a benchmark-only dependency (not in pyproject.toml):
    .venv/bin/pip install pysigma-backend-sqlite
"""

from __future__ import annotations

import argparse
import gc
import platform
import re
import sqlite3
import sys
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sigma_events import EVENT_MIX, generate_events  # noqa: E402

from vigil.events.fields import DEFAULT_FIELDS  # noqa: E402
from vigil.events.model import Event  # noqa: E402
from vigil.rules.compiler import compile_condition  # noqa: E402
from vigil.rules.sigma import SigmaEngine, load_sigma_paths  # noqa: E402
from vigil.rules.sigma.auditd import AUDITED_RECORDS, RuleAudit  # noqa: E402
from vigil.rules.sigma.logsource import (AUDIT_RECORD_TYPES, SYSCALL,  # noqa: E402
                                         LogsourceRoute, LogsourceRouter)
from vigil.rules.sigma.translate import scan_auditd_rule  # noqa: E402
from vigil.rules.sigma.mapping import TEXT_FIELD, SigmaFieldMapping  # noqa: E402
from vigil.rules.sigma.ruleset import CompiledSigmaRule  # noqa: E402

RULES = Path(__file__).resolve().parents[2] / "shared" / "rules" / "sigma" / "linux"
EXEC_VIEW = "log:@exec"


# ---------------------------------------------------------------------------------------
# Vigil

def run_engine(engine: SigmaEngine, events: list[Event], keep: int
               ) -> tuple[float, float, Counter[str], set[tuple[int, str]]]:
    """Wall and CPU seconds for all events (a shared machine slows the first, hardly the
    second); detections per rule; (index, rule id) for the first `keep`."""
    per_rule: Counter[str] = Counter()
    kept: set[tuple[int, str]] = set()
    on_event = engine.on_event
    t0, c0 = time.perf_counter(), time.process_time()
    for i, ev in enumerate(events):
        dets = on_event(ev)
        if dets:
            for d in dets:
                per_rule[d.rule_id] += 1  # type: ignore[index]
                if i < keep:
                    kept.add((i, d.rule_id))  # type: ignore[arg-type]
    cpu = time.process_time() - c0
    return time.perf_counter() - t0, cpu, per_rule, kept


# ---------------------------------------------------------------------------------------
# the SQLite way

def rule_audits(rules: list[CompiledSigmaRule], router: LogsourceRouter
                ) -> dict[str, RuleAudit]:
    """The audit rules each auditd Sigma rule assumes (as `translate_rule` decides them)."""
    from vigil.rules.sigma.loader import parse_paths

    parsed = {p.rule_id: p.rule for p in parse_paths([RULES]).rules}
    out = {}
    for r in rules:
        if r.route.table == "auditd":
            rule = parsed[r.rule_id]
            trees = [c.parsed for c in rule.detection.parsed_condition]
            out[r.rule_id] = router.auditd.for_rule(scan_auditd_rule(rule, trees))
    return out


class AuditSelection:
    """Per event, the auditd Sigma rules whose assumed audit rules record it, and the
    record's key: what auditd decides on a real host, computed before the timed pass."""

    def __init__(self, audits: dict[str, RuleAudit]) -> None:
        #: each rule's token in the `audit_rules` column (short, so `instr` stays cheap)
        self.token = {rid: f",{n}," for n, rid in enumerate(audits)}
        self.selects = [(n, compile_condition(a.selected()).predicate)
                        for n, a in enumerate(audits.values())]
        keys: dict[str, Any] = {}
        for a in audits.values():
            for k in a.keys:
                cond = a.key(k)
                if cond is not None and k not in keys:
                    keys[k] = compile_condition(cond).predicate
        self.keys = list(keys.items())

    def of(self, ev: Event) -> tuple[str, str | None]:
        """(the selecting rules' tokens, key) for one event."""
        if ev.source != SYSCALL:
            return "", None
        ids = "".join(f",{n}," for n, p in self.selects if p(ev))
        return ids, next((k for k, p in self.keys if p(ev)), None)


class Flattener:
    """Event -> rows of Sigma field names, one per logsource view the event belongs to."""

    def __init__(self, mapping: SigmaFieldMapping) -> None:
        self.mapping = mapping
        router = LogsourceRouter()
        self.views: list[tuple[str, LogsourceRoute, Any]] = []
        for cat in ("process_creation", "file_event", "network_connection"):
            route = router.route(cat, "linux", None)
            guard = compile_condition(route.guard).predicate
            self.views.append((cat, route, guard))
        # every record a syscall would have if every audit rule were configured; which
        # rules see it is the `audit_rules` column
        everything = RuleAudit("all")
        self.records = [(rt, compile_condition(everything.record(rt)).predicate)
                        for rt in ("SYSCALL", "EXECVE", "PATH")]
        self.records += [(rt, compile_condition(r.condition).predicate)
                         for rt, r in AUDIT_RECORD_TYPES.items() if r.condition is not None]
        self.columns: dict[str, str] = {}  # lower-case name -> column name
        self.getters: dict[str, dict[str, Any]] = {}  # view -> column -> extractor
        for table in mapping.tables:
            for f in mapping.tables[table]:
                self.columns.setdefault(f.lower(), f)
        for c in ("type", "key", "Text", "program", "audit_rules"):
            self.columns.setdefault(c.lower(), c)
        for cat, _r, _g in self.views:
            self.getters[cat] = self._getters(cat, frozenset())
        for rt, _p in self.records:
            self.getters["auditd." + rt] = self._getters("auditd", frozenset({rt}))
        self.text = DEFAULT_FIELDS.extractor(TEXT_FIELD)
        self.program = DEFAULT_FIELDS.extractor("log.program")

    def _getters(self, table: str, record_types: frozenset[str]) -> dict[str, Any]:
        out = {}
        names = set(self.mapping.tables.get(table, {}))
        for rt in record_types:
            names |= set(self.mapping.tables.get(f"{table}.{rt}", {}))
        for name in names:
            ref = self.mapping.lookup(table, name, record_types)
            if ref is not None:
                out[self.columns[name.lower()]] = DEFAULT_FIELDS.extractor(ref.name, ref.arg)
        return out

    def rows(self, i: int, ev: Event, audit: tuple[str, str | None] = ("", None)
             ) -> list[dict[str, Any]]:
        out = []
        text = self.text(ev)
        for cat, route, guard in self.views:
            if route.applies(ev.source, ev.type) and guard(ev):
                out.append(self._row(i, cat, self.getters[cat], ev, text))
        if ev.source == SYSCALL:
            selected, key = audit
            for rt, pred in self.records:
                if pred(ev):
                    row = self._row(i, "auditd", self.getters["auditd." + rt], ev, text)
                    row["type"], row["key"], row["audit_rules"] = rt, key, selected
                    out.append(row)
        if text is not None:
            view = EXEC_VIEW if ev.source == SYSCALL else f"log:{self.program(ev)}"
            out.append({"event_id": i, "logsource": view, "Text": text,
                        "program": self.program(ev)})
        return out

    @staticmethod
    def _row(i: int, view: str, getters: dict[str, Any], ev: Event, text: Any) -> dict[str, Any]:
        row: dict[str, Any] = {"event_id": i, "logsource": view, "Text": text}
        for col, get in getters.items():
            v = get(ev)
            if isinstance(v, bool):
                v = "true" if v else "false"
            row[col] = v
        return row


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: Any) -> int:
    # Zircolite registers the same kind of Python function for SQLite's REGEXP
    if value is None:
        return 0
    return 1 if _regex(pattern).search(str(value)) else 0


def logsource_filter(route: LogsourceRoute, token: str = "") -> str:
    """SQL restricting a rule to the rows of its logsource (same routing as Vigil); an
    auditd rule to the records its assumed audit rules write (and user-space records)."""
    if route.table == "auditd":
        audited = ", ".join(f"'{t}'" for t in sorted(AUDITED_RECORDS))
        return (f"logsource = 'auditd' AND (type NOT IN ({audited}) "
                f"OR instr(audit_rules, '{token}') > 0)")
    if route.table != "log":
        return f"logsource = '{route.table}'"
    programs = re.findall(r'Value\(text=\'([^\']*)\'', repr(route.guard))
    if programs:
        return "logsource IN (" + ", ".join(f"'log:{p}'" for p in programs) + ")"
    if SYSCALL in route.sources:
        return "logsource LIKE 'log:%'"
    return f"logsource LIKE 'log:%' AND logsource <> '{EXEC_VIEW}'"


def convert_rules(rules: list[CompiledSigmaRule], tokens: dict[str, str]
                  ) -> tuple[dict[str, str], dict[str, str]]:
    """rule id -> SQL (converted once), and rule id -> why the backend refused it;
    `tokens`: an auditd rule's token in the `audit_rules` column (`AuditSelection`)."""
    from sigma.backends.sqlite import sqliteBackend

    from vigil.rules.sigma.loader import parse_paths

    backend = sqliteBackend(fulltext_field="Text")
    parsed = {p.rule_id: p.rule for p in parse_paths([RULES]).rules}
    queries, failed = {}, {}
    for r in rules:
        try:
            [q] = backend.convert_rule(parsed[r.rule_id])
        except Exception as exc:  # the backend's own errors, per rule
            failed[r.rule_id] = str(exc)
            continue
        prefix = "SELECT * FROM logs WHERE "
        assert q.startswith(prefix), q
        queries[r.rule_id] = (f"SELECT DISTINCT event_id FROM logs WHERE "
                              f"{logsource_filter(r.route, tokens.get(r.rule_id, ''))} AND "
                              f"({q[len(prefix):]})")
    return queries, failed


def unrouted(queries: dict[str, str]) -> dict[str, str]:
    """The same queries over the whole table, as Zircolite runs them (no logsource, no
    audit-rule test: on a host, auditd has written only the records its rules select; here
    the table holds a record for every syscall, so these queries see more rows, not fewer)."""
    out = {}
    for rid, q in queries.items():
        _head, _, rest = q.partition(" AND (")
        out[rid] = "SELECT DISTINCT event_id FROM logs WHERE (" + rest
    return out


def run_sqlite(events: list[Event], queries: dict[str, str], mapping: SigmaFieldMapping,
               selection: AuditSelection
               ) -> tuple[dict[str, float], set[tuple[int, str]], int]:
    """Timings (flatten+insert, queries routed by logsource, the same queries over the
    whole table), the routed queries' (event, rule) matches and the number of rows."""
    flat = Flattener(mapping)
    audited = [selection.of(ev) for ev in events]  # auditd's work: not timed
    cols = sorted(set(flat.columns.values()))
    con = sqlite3.connect(":memory:")
    con.create_function("regexp", 2, _regexp, deterministic=True)
    coldefs = ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in cols)
    con.execute(f"CREATE TABLE logs (event_id INTEGER, logsource TEXT, {coldefs})")
    allcols = ["event_id", "logsource"] + cols
    insert = (f"INSERT INTO logs ({', '.join(chr(34) + c + chr(34) for c in allcols)}) "
              f"VALUES ({', '.join('?' * len(allcols))})")
    t0 = time.perf_counter()
    nrows = 0
    t_insert = 0.0
    batch: list[tuple[Any, ...]] = []
    for i, ev in enumerate(events):
        for row in flat.rows(i, ev, audited[i]):
            batch.append(tuple(row.get(c) for c in allcols))
        if len(batch) >= 20000 or i == len(events) - 1:
            t1 = time.perf_counter()
            con.executemany(insert, batch)
            t_insert += time.perf_counter() - t1
            nrows += len(batch)
            batch.clear()
    t1 = time.perf_counter()
    con.execute("CREATE INDEX logs_logsource ON logs (logsource)")
    con.commit()
    t_insert += time.perf_counter() - t1
    t_load = time.perf_counter() - t0
    matches: set[tuple[int, str]] = set()
    t0 = time.perf_counter()
    for rid, q in queries.items():
        for (eid,) in con.execute(q):
            matches.add((eid, rid))
    t_query = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in unrouted(queries).values():
        con.execute(q).fetchall()
    t_whole = time.perf_counter() - t0
    con.close()
    return ({"load": t_load, "insert": t_insert, "query": t_query, "whole": t_whole},
            matches, nrows)


# ---------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--sqlite-events", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    print("event mix (per 1000): " + ", ".join(f"{k} {v}" for k, v in EVENT_MIX.items()))
    t0 = time.perf_counter()
    result = load_sigma_paths([RULES])
    t_load = time.perf_counter() - t0
    print(f"rules: {len(result.rules)} compiled, {len(result.unsupported)} unsupported, "
          f"{len(result.errors)} errors, loaded in {t_load:.2f} s")
    t0 = time.perf_counter()
    events = list(generate_events(args.events, args.seed))
    print(f"generated {len(events):,} events in {time.perf_counter() - t0:.1f} s "
          "(not timed below)")
    # An agent streams events; here they are all held in a list, and the cyclic garbage
    # collector would walk those millions of objects again and again. Freezing them keeps
    # that cost (which the agent never pays) out of both measurements.
    gc.collect()
    gc.freeze()

    engine = SigmaEngine(result.rules)
    keep = min(args.sqlite_events, len(events))
    secs, cpu, per_rule, vigil_matches = run_engine(engine, events, keep)
    vigil_rate = len(events) / secs
    print(f"\nVigil SigmaEngine: {len(events):,} events in {secs:.2f} s = "
          f"{vigil_rate:,.0f} events/s; {sum(per_rule.values()):,} detections from "
          f"{len(per_rule)} rules")
    print(f"  CPU time {cpu:.2f} s = {len(events) / cpu:,.0f} events/s (what other jobs "
          "on a shared machine hardly change)")
    for rid, n in per_rule.most_common(8):
        title = next(r.title for r in result.rules if r.rule_id == rid)
        print(f"  {n:>8,}  {title}")

    try:
        import sigma.backends.sqlite  # noqa: F401
    except ImportError:
        print("\npysigma-backend-sqlite is not installed; the SQLite comparison is skipped.\n"
              "Install it (benchmark only):  .venv/bin/pip install pysigma-backend-sqlite")
        return 0

    mapping = SigmaFieldMapping.default()
    t0 = time.perf_counter()
    selection = AuditSelection(rule_audits(result.rules, LogsourceRouter()))
    queries, failed = convert_rules(result.rules, selection.token)
    t_conv = time.perf_counter() - t0
    print(f"\nSQLite (Zircolite-style): {len(queries)} rules converted in {t_conv:.2f} s "
          f"(not timed), {len(failed)} refused by the backend")
    sub = events[:keep]
    times, sql_matches, nrows = run_sqlite(sub, queries, mapping, selection)
    n = len(sub)
    zirc = n / (times["load"] + times["whole"])
    routed = n / (times["load"] + times["query"])
    print(f"  ran on the first {n:,} events ({nrows:,} rows; the subset's rate is compared "
          f"with Vigil's rate on all events)")
    print(f"  flatten+insert {times['load']:.2f} s (of which SQLite inserts "
          f"{times['insert']:.2f} s, the rest flattening in Python);")
    print(f"  {len(queries)} queries over the whole "
          f"table (as Zircolite runs them) {times['whole']:.2f} s; the same restricted to "
          f"each rule's logsource rows (indexed) {times['query']:.2f} s")
    print(f"  = {zirc:,.0f} events/s Zircolite-style; {routed:,.0f} events/s with logsource "
          f"routing; queries alone {n / times['whole']:,.0f} / {n / times['query']:,.0f} "
          "events/s")
    sql_only = n / (times["insert"] + times["whole"])
    print(f"  without the Python flattening (inserts + queries): {sql_only:,.0f} events/s")
    print(f"\nratio Vigil / SQLite: {vigil_rate / zirc:.1f}x Zircolite-style "
          f"(insert + queries); {vigil_rate / routed:.1f}x with logsource routing; "
          f"{vigil_rate / (n / times['whole']):.1f}x / {vigil_rate / (n / times['query']):.1f}x "
          f"against the queries alone; {vigil_rate / sql_only:.1f}x against inserts + "
          "queries without the flattening")

    both = set(queries)
    mine = {(i, r) for i, r in vigil_matches if r in both}
    only_vigil, only_sql = mine - sql_matches, sql_matches - mine
    print(f"\nmatches on the subset, {len(both)} rules both support: Vigil {len(mine):,}, "
          f"SQLite {len(sql_matches):,}; identical: {not only_vigil and not only_sql}")
    titles = {r.rule_id: r.title for r in result.rules}
    for label, diff in (("only Vigil", only_vigil), ("only SQLite", only_sql)):
        by_rule = Counter(r for _i, r in diff)
        for rid, n in by_rule.most_common(10):
            i = next(i for i, r in sorted(diff) if r == rid)
            print(f"  {label}: {titles[rid]} ({rid}) x{n}, e.g. event {i}: "
                  f"{events[i].type} {events[i].proc.cmdline()!r}")
    return 0 if not only_vigil and not only_sql else 1


if __name__ == "__main__":
    sys.exit(main())
