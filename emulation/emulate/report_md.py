"""`docs/detection.md`: the scorecard as an ATT&CK-style coverage matrix."""

from __future__ import annotations

from emulate.judge import DETECTED, PASSED
from emulate.scenario import TACTICS
from emulate.scorecard import (REQUIRED_DETECTION_PCT, Scorecard, ScenarioRecord,
                               grouped_titles)

_MARK = {"detected": "yes", "named_in_detection": "no (only a detection names it)",
         "wrong_name": "no (incident names something else)", "missed": "no",
         "error": "scenario error", "timeout": "scenario timed out", "skipped": "skipped",
         "passed": "0", "failed": "", }


def _cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _titles(rec: ScenarioRecord) -> str:
    return "<br>".join(_cell(t) for t in grouped_titles(rec.verdict)) or "—"


def _tactic_order(rec: ScenarioRecord) -> tuple[int, str]:
    first = rec.scenario.tactics[0]
    return (TACTICS.index(first) if first in TACTICS else len(TACTICS), rec.scenario.name)


def render_markdown(card: Scorecard) -> str:
    """The whole page."""
    t = card.totals
    m = card.machine
    attacks = sorted((r for r in card.records if r.scenario.is_attack), key=_tactic_order)
    benign = [r for r in card.records if not r.scenario.is_attack]
    lines = [
        "# Detection scorecard",
        "",
        "Written by `make emulate` (`emulation/`, see [emulation.md](emulation.md)): the agent "
        "ran with its default configuration while every scenario ran once; incidents were "
        "attributed to the scenario that caused them and judged against the behaviour "
        "keywords in its header. Do not edit by hand; run `make emulate` again.",
        "",
        f"- date: {card.generated}",
        f"- machine: kernel {m.get('kernel', '?')}, {m.get('cpus', '?')} CPUs, "
        f"{m.get('os', '?')}",
        f"- Vigil: {card.agent.get('commit', '?')}; agent output: "
        f"{card.agent.get('format', '?')}; {card.agent.get('watching', '')}",
        f"- agent counters at the end: {card.agent.get('final_stats', '?')}",
        f"- attribution: {card.agent.get('attribution', '?')}",
    ]
    if card.partial:
        lines.append("- **partial run** (`--only`): not every scenario ran")
    lines += [
        "",
        "## Summary",
        "",
        "| | result | required |",
        "|---|---|---|",
        f"| attacks detected (an incident title names the behaviour) | {t.detected} of "
        f"{t.attacks_ran} ({t.detection_pct:.1f} %) | ≥ {REQUIRED_DETECTION_PCT:g} % |",
        f"| attacks named only by a detection, not the title | {t.named_in_detection} | |",
        f"| attacks with incidents that name something else | {t.wrong_name} | |",
        f"| attacks missed (no incident) | {t.missed} | |",
        f"| benign scenarios that raised incidents | {t.benign_failed} of {t.benign_ran} | 0 |",
        f"| scenario errors / timeouts / skipped | {t.errors} / {t.timeouts} / {t.skipped} | "
        f"0 / 0 / – |",
        f"| scenarios that left something behind | {t.dirty} | 0 |",
        f"| scenarios during which the agent lost events (verdict unreliable) | {t.lossy} | 0 |",
        f"| incidents attributed to no scenario | {len(card.unattributed)} | |",
        f"| **acceptance** | **{'met' if t.accepted else 'not met'}** | |",
        "",
    ]
    not_detected = [r for r in attacks if r.verdict.status != DETECTED]
    noisy = [r for r in benign if r.verdict.status == "failed"]
    if not_detected:
        lines.append("Attacks not detected: " + ", ".join(
            f"`{r.scenario.name}` ({r.verdict.status.replace('_', ' ')})"
            for r in sorted(not_detected, key=lambda r: r.scenario.name)) + ".")
        lines.append("")
    if noisy:
        lines.append("Benign scenarios with incidents: " + ", ".join(
            f"`{r.scenario.name}`" for r in noisy) + ".")
        lines.append("")
    lines += [
        "## Coverage by tactic",
        "",
        "| tactic | attacks | detected | % |",
        "|---|---|---|---|",
    ]
    for tactic in TACTICS:
        recs = [r for r in attacks if tactic in r.scenario.tactics]
        if not recs:
            continue
        hit = sum(r.verdict.status == DETECTED for r in recs)
        lines.append(f"| {tactic} | {len(recs)} | {hit} | {100.0 * hit / len(recs):.0f} % |")
    lines += [
        "",
        "## Attacks",
        "",
        "| technique | tactic | scenario | detected | incident title(s) (priority) | "
        "expected keywords |",
        "|---|---|---|---|---|---|",
    ]
    for r in attacks:
        sc = r.scenario
        tech = "<br>".join(_cell(f"{x.id} {x.name}") for x in sc.techniques)
        lines.append(f"| {tech} | {', '.join(sc.tactics)} | `{sc.name}` | "
                     f"{_MARK.get(r.verdict.status, r.verdict.status)} | {_titles(r)} | "
                     f"{_cell(', '.join(sc.expect))} |")
    lines += [
        "",
        "## Benign look-alikes",
        "",
        "| scenario | resembles | incidents raised | incident title(s) (priority) |",
        "|---|---|---|---|",
    ]
    for r in benign:
        sc = r.scenario
        tech = "<br>".join(_cell(f"{x.id} {x.name}") for x in sc.techniques)
        status = r.verdict.status
        count = str(len(r.verdict.incidents)) if status in (PASSED, "failed") \
            else _MARK.get(status, status)
        lines.append(f"| `{sc.name}` | {tech} | {count} | {_titles(r)} |")
    problems = [r for r in card.records if r.run.dirty or r.verdict.note]
    if problems:
        lines += ["", "## Scenario notes", ""]
        for r in problems:
            note = r.verdict.note
            if r.run.dirty:
                note = (note + "; " if note else "") + "left behind: " + "; ".join(r.run.dirty)
            lines.append(f"- `{r.scenario.name}`: {_cell(note)}")
    if card.unattributed:
        lines += ["", "## Incidents attributed to no scenario", "",
                  "Activity outside every scenario window, or by processes outside the "
                  "scenario's process tree (other work on the machine, the runner itself).",
                  "", "| title | priority | why |", "|---|---|---|"]
        for u in card.unattributed:
            lines.append(f"| {_cell(u['title'])} | {u['priority']} | {_cell(u['reason'])} |")
    return "\n".join(lines) + "\n"
