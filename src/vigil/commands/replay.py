"""`vigil replay FILE`: run rules (and, with a config, the whole pipeline) over a recording
(JSONL) or an authentication log (`--format authlog`, as fail2ban-regex reads one)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, Optional

import typer

from vigil.detections import Detection
from vigil.events.jsonl import MAX_ANCESTRY, BadLine, Numbered, read_events, read_numbered
from vigil.display import detection_line


FORMATS = ("auto", "jsonl", "authlog")


def _print_detection(det: Detection, as_json: bool) -> None:
    typer.echo(detection_line(det, as_json))


def sniff_format(path: Path) -> str:
    """"jsonl" when the first line that is not blank or a comment is a JSON object, else
    "authlog"."""
    with open(path, "rb") as fh:
        for line in fh:
            s = line.strip()
            if s and not s.startswith(b"#"):
                return "jsonl" if s.startswith(b"{") else "authlog"
            if fh.tell() > 1 << 20:
                break
    return "jsonl"


def replay(events: Path = typer.Argument(..., help="JSONL recording (docs/events.md) or "
                                                   "auth log (/var/log/auth.log, secure)",
                                         exists=True, dir_okay=False),
           fmt: str = typer.Option("auto", "--format", "-f",
                                   help="jsonl (a recording), authlog (syslog lines of sshd, "
                                        "sudo, su, read as the live auth sensor reads them) "
                                        "or auto (JSONL when the file starts with a JSON "
                                        "object)"),
           rules: Optional[list[str]] = typer.Option(
               None, "--rules", "-r", help="Falco or Sigma rule file/dir (repeatable; "
                                           "default: the config's rules, else `builtin`)"),
           config: Optional[Path] = typer.Option(
               None, "--config", "-c", help="vigil.toml: run the whole pipeline "
                                            "(rules, detectors, suppression) it describes"),
           as_json: bool = typer.Option(False, "--json", help="incident documents (with "
                                        "--detections: Falco JSON), one per line"),
           detections: bool = typer.Option(False, "--detections",
                                           help="print every detection instead of incidents"),
           show_suppressed: bool = typer.Option(False, "--show-suppressed",
                                                help="Also print suppressed detections"),
           no_suppress: bool = typer.Option(False, "--no-suppress",
                                            help="Turn suppression off (see every detection)"),
           rule_matching: str = typer.Option("first", help="first (Falco's default) or all"),
           audit: bool = typer.Option(False, "--audit", help="write the config's audit "
                                      "trail (incidents and suppressions)"),
           alerts: bool = typer.Option(False, "--alerts", help="send incidents through the "
                                       "config's alert routes, batched on recorded time"),
           agent_pid: Optional[int] = typer.Option(
               None, "--agent-pid", help="pid of the Vigil agent in the recording (its own "
                                         "activity is not suspicious)"),
           compare_config: Optional[Path] = typer.Option(
               None, "--compare-config", help="a second vigil.toml: print the incidents "
                                              "that appear, vanish or change with it"),
           compare_rules: Optional[list[str]] = typer.Option(
               None, "--compare-rules", help="rule files/dirs to compare with (instead of "
                                             "the first side's rules; repeatable)"),
           ) -> None:
    """Replay recorded events through the rules and print the incidents (as `vigil run`
    would, on recorded time) and a summary."""
    from vigil.agent import build_pipeline

    if rule_matching not in ("first", "all"):
        typer.echo(f"vigil replay: --rule-matching must be first or all, not {rule_matching!r}",
                   err=True)
        raise typer.Exit(2)
    if compare_config is not None or compare_rules:
        _compare(events, config, rules, compare_config, compare_rules, rule_matching,
                 agent_pid, as_json)
        return

    if fmt not in FORMATS:
        typer.echo(f"vigil replay: --format must be one of {', '.join(FORMATS)}, not {fmt!r}",
                   err=True)
        raise typer.Exit(2)
    if fmt == "auto":
        fmt = sniff_format(events)
    # an auth log is what the built-in detectors read (ssh_bruteforce): they run even
    # without a config, as fail2ban-regex runs its filter
    built = build_pipeline(config_path=config, rule_paths=rules, suppress=not no_suppress,
                           rule_matching=rule_matching, audit=audit,
                           alerts="replay" if alerts else False,
                           detectors=True if fmt == "authlog" else None,
                           agent_pid=agent_pid)
    for problem in built.problems:
        typer.echo(f"ERROR {problem}", err=True)
    if built.fatal:
        raise typer.Exit(1)
    pipe = built.pipeline
    if not detections:
        from vigil.runtime import incident_printer
        pipe.on_incident = incident_printer(as_json)
    bad = failed = 0
    t0 = time.perf_counter()
    auth_file = None
    if fmt == "authlog":
        from vigil.sensors.authlog import AuthLogFile

        auth_file = AuthLogFile(events)
        # an auth log has no event lines: events are numbered as they come
        items: Iterator = (Numbered(n, ev) for n, ev in enumerate(auth_file, 1))
    else:
        items = read_numbered(events)
    # a hostile or damaged recording must not cost the lines after it, nor the summary:
    # every problem is one line `file:line: what`, and reading goes on
    try:
        for item in items:
            if isinstance(item, BadLine):
                bad += 1
                typer.echo(f"{events}:{item.lineno}: skipped malformed event: {item.error}",
                           err=True)
                continue
            if item.cut_ancestors:
                typer.echo(f"{events}:{item.lineno}: process ancestry cut at {MAX_ANCESTRY} "
                           f"parents ({item.cut_ancestors} more dropped)", err=True)
            try:
                for det in pipe.process(item.event):
                    if (det.suppressed is None and detections) or (det.suppressed is not None
                                                                   and show_suppressed):
                        _print_detection(det, as_json)
            except Exception as exc:  # noqa: BLE001 (reported with its line, then go on)
                failed += 1
                where = f"{events}:{item.lineno}" if auth_file is None \
                    else f"{events}: event {item.lineno}"
                typer.echo(f"{where}: event could not be processed: "
                           f"{type(exc).__name__}: {str(exc)[:300]!r}", err=True)
    except OSError as exc:
        typer.echo(f"{events}: cannot read further: {exc.strerror or exc}", err=True)
    elapsed = time.perf_counter() - t0
    built.close()
    st = pipe.stats
    rate = st.events / elapsed if elapsed > 0 else 0.0
    out = typer.echo if not as_json else (lambda s: typer.echo(s, err=True))
    if auth_file is not None:
        a = auth_file.stats
        read = (f"{a.get('lines', 0)} lines, {a.get('unparsed', 0)} not about "
                f"authentication" + (f", {a['long_lines']} over-long lines cut"
                                     if a.get("long_lines") else ""))
    else:
        read = f"{bad} malformed lines skipped"
    if failed:
        read += f", {failed} could not be processed"
    out(f"--- {st.events} events ({read}), {st.detections} "
        f"detections: {st.unsuppressed} unsuppressed in {st.incidents_opened} incidents, "
        f"{st.suppressed} suppressed; {rate:,.0f} events/s")
    for name, n in sorted(st.per_name.items(), key=lambda kv: (-kv[1], kv[0])):
        sup = st.suppressed_per_name.get(name, 0)
        out(f"{n:8d}  {name}" + (f"  ({sup} suppressed)" if sup else ""))


def _compare(events: Path, config: Optional[Path], rules: Optional[list[str]],
             compare_config: Optional[Path], compare_rules: Optional[list[str]],
             rule_matching: str, agent_pid: Optional[int], as_json: bool) -> None:
    """Run the recording through side A (config/rules) and side B (the other config, or
    the other rules) at once, then print what differs."""
    import msgspec

    from vigil.agent import build_pipeline
    from vigil.incidents.model import IncidentEventKind
    from vigil.incidents.render import incident_document
    from vigil.tuning.compare import compare_incidents, describe

    sides = []
    for cfg, rule_paths in ((config, rules),
                            (compare_config or config, compare_rules or rules)):
        built = build_pipeline(config_path=cfg, rule_paths=rule_paths, audit=False,
                               alerts=False, rule_matching=rule_matching,
                               agent_pid=agent_pid,
                               detectors=True if cfg is not None else None)
        for problem in built.problems:
            typer.echo(f"ERROR {problem}", err=True)
        if built.fatal:
            raise typer.Exit(1)
        closed: list = []
        built.pipeline.on_incident = (lambda ev, out=closed: out.append(ev.incident)
                                      if ev.kind is IncidentEventKind.CLOSED else None)
        sides.append((built, closed))
    bad = 0
    for item in read_events(events):
        if isinstance(item, BadLine):
            bad += 1
            typer.echo(f"{events}:{item.lineno}: skipped malformed event: {item.error}",
                       err=True)
            continue
        for built, _ in sides:
            built.pipeline.process(item)
    for built, _ in sides:
        built.close()
    (a_built, a), (b_built, b) = sides
    result = compare_incidents(a, b)
    if as_json:
        typer.echo(msgspec.json.encode({
            "appear": [incident_document(i) for i in result.appear],
            "vanish": [incident_document(i) for i in result.vanish],
            "changed": [{"a": incident_document(x), "b": incident_document(y)}
                        for x, y in result.changed],
            "same": result.same}).decode())
        return
    from vigil.terminal import safe_text
    typer.echo(f"A: {len(a)} incidents, B: {len(b)} incidents over "
               f"{a_built.pipeline.stats.events} events ({bad} malformed lines skipped)")
    for line in describe(result):
        typer.echo(safe_text(line))


def register(app: typer.Typer) -> None:
    """Add the `replay` command."""
    app.command("replay")(replay)
