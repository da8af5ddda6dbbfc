"""`vigil rules list` as text: one line per rule or detector, its description under it,
and what silences it."""

from __future__ import annotations

import textwrap
from collections import Counter

from vigil.rules.inventory import Inventory, InventoryItem
from vigil.terminal import safe_text

NAME_WIDTH = 50
TYPES_WIDTH = 30
WRAP = 100


def _types(item: InventoryItem) -> str:
    if item.event_types is None:
        return "*"
    return ",".join(item.event_types) or "-"


def _counts(items: list[InventoryItem]) -> str:
    c = Counter(i.state for i in items)
    return ", ".join(f"{n} {state}" for state, n in sorted(c.items(), key=lambda kv: -kv[1]))


def _notes(item: InventoryItem, brief: bool) -> list[str]:
    out: list[str] = []
    if item.description and not brief:
        out.extend(textwrap.wrap(safe_text(item.description), WRAP, initial_indent="    ",
                                 subsequent_indent="    "))
    if item.why:
        joint = " by" if item.state == "disabled" else ":"
        out.append(f"    {item.state}{joint} {safe_text(item.why)}")
    if item.silenced_by is not None:
        out.append(f"    silenced by {safe_text(item.silenced_by)}")
    for e in item.silenced_in:
        out.append(f"    silenced in a scope by {safe_text(e)}")
    if item.shadow is not None:
        out.append(f"    shadow mode by {safe_text(item.shadow)}")
    for e in item.exceptions:
        out.append(f"    except {safe_text(e)}")
    return out


def _rule_line(item: InventoryItem) -> str:
    name = item.name if item.kind != "sigma" else f"sigma:{item.rule_id}"
    line = (f"{safe_text(name)[:NAME_WIDTH]:{NAME_WIDTH}} {item.priority or '-':13} "
            f"{item.state:11} {_types(item)[:TYPES_WIDTH]:{TYPES_WIDTH}} "
            f"{safe_text(','.join(item.tags))}")
    if item.kind == "sigma":
        line += f"  {safe_text(item.name)}"
    return line.rstrip()


def inventory_lines(inv: Inventory, brief: bool = False) -> list[str]:
    """The whole listing."""
    out: list[str] = []
    where = f" ({inv.config})" if inv.config else ""
    out.append(f"Rules{where}: {len(inv.rules)} rule(s) from {len(inv.falco_files)} Falco "
               f"file(s) and {len(inv.sigma_paths)} Sigma file(s)"
               + (f": {_counts(inv.rules)}" if inv.rules else ""))
    out.append(f"{'RULE':{NAME_WIDTH}} {'PRIORITY':13} {'STATE':11} "
               f"{'EVENT TYPES':{TYPES_WIDTH}} TAGS")
    for item in inv.rules:
        out.append(_rule_line(item))
        out.extend(_notes(item, brief))
    if inv.detectors:
        out.append("")
        out.append(f"Detectors{where}: {len(inv.detectors)} detector(s): "
                   f"{_counts(inv.detectors)}")
        out.append(f"{'DETECTOR':{NAME_WIDTH}} {'STATE':11} EVENT TYPES")
        for item in inv.detectors:
            out.append(f"{item.name:{NAME_WIDTH}} {item.state:11} {_types(item)}".rstrip())
            out.extend(_notes(item, brief))
    if inv.everywhere:
        out.append("")
        out.append("Allowlist entries for every rule and detector:")
        out.extend(f"    {safe_text(e)}" for e in inv.everywhere)
    for text in inv.unmatched:
        out.append(f"WARNING {safe_text(text)}")
    return out
