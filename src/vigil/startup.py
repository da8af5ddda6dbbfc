"""The block `vigil run` prints when it starts: what runs, from where, and what does not
(and why) — so that a person (or a service's journal) never has to guess which config,
state directory, sensors, rules, routes and sinks an agent uses."""

from __future__ import annotations

from typing import Any


def startup_lines(built: Any, sensors: list[Any], reasons: list[str], *,
                  metrics: str | None, control: str | None, nice: int) -> list[str]:
    """The lines of the start-up block (without the final "watching" line)."""
    from vigil import __version__
    cfg = built.config
    out = [f"vigil {__version__} starting"]
    out.append(f"  config     {cfg.source or '(built-in defaults: no vigil.toml)'}")
    audit = f"; audit trail {built.audit.path.parent}" if built.audit is not None else ""
    out.append(f"  state_dir  {cfg.state_dir}{audit}")
    for s in sensors:
        what = getattr(s, "describe", None)
        detail = what() if callable(what) else ""
        out.append(f"  sensor     {s.name}: running{(' (' + detail + ')') if detail else ''}")
    for r in reasons:
        out.append(f"  sensor     off: {r}")
    falco = len(built.falco.rules) if built.falco is not None else 0
    sigma = len(built.sigma.rules) if built.sigma is not None else 0
    files = ", ".join(str(p) for p in built.falco_paths[:4])
    unsupported = sum(1 for w in built.warnings if w.startswith("unsupported Sigma rule"))
    more = (f" ({unsupported} more not supported: `vigil rules validate` says why)"
            if unsupported else "")
    out.append(f"  rules      {falco} Falco ({files or 'none'}), {sigma} Sigma{more}")
    shadow = built.pipeline.shadow
    dets = ", ".join(d.name for d in built.detectors)
    out.append(f"  detectors  {len(built.detectors)}: {dets}")
    if shadow:
        bits = [f"rules {', '.join(str(e.value) for e in shadow.rules + shadow.paths)}"
                if shadow.rules or shadow.paths else "",
                f"detectors {', '.join(sorted(shadow.detectors))}" if shadow.detectors else ""]
        out.append("  shadow     " + "; ".join(b for b in bits if b))
    inc = cfg.incidents
    out.append(f"  incidents  close after {inc.idle_close_secs:g} s quiet or "
               f"{inc.max_duration_secs:g} s; at most {inc.max_open} open")
    routes = getattr(cfg.alerts, "routes", ()) or ()
    sinks = getattr(cfg.alerts, "sinks", {}) or {}
    if routes:
        for r in routes:
            sink = sinks.get(r.sink)
            kind = sink.type if sink is not None else "?"
            out.append(f"  route      {r.name} → {kind} sink {r.sink!r} "
                       f"({r.min_priority.label} and worse)")
    else:
        out.append("  alerts     no routes: incidents are printed and audited only")
    if metrics:
        out.append(f"  metrics    {metrics}")
    if control:
        out.append(f"  control    {control} (vigil status, vigil reload)")
    out.append(f"  nice       {nice}")
    return out
