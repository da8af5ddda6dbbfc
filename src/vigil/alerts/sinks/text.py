"""Formatting helpers shared by the chat sinks: escaping untrusted text and splitting
long messages without cutting an escape sequence or a markup tag in half."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator

from vigil.alerts.message import Alert, iso_utc

_MDV2_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")


def escape_html(text: str) -> str:
    """Escape for Telegram's HTML parse mode (only `&`, `<` and `>` are special)."""
    return html.escape(text, quote=False)


def escape_markdown_v2(text: str) -> str:
    """Escape every character Telegram's MarkdownV2 treats as markup."""
    return _MDV2_SPECIAL.sub(r"\\\1", text)


def escape_slack(text: str) -> str:
    """Escape for Slack mrkdwn (`&`, `<`, `>` only, as Slack documents)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def escaped_atoms(plain: str, escape: Callable[[str], str], limit: int) -> Iterator[str]:
    """`plain` escaped, cut into pieces of at most `limit` units, preferably at line ends;
    an escape sequence is never cut because pieces are escaped separately."""
    for line in re.split(r"(?<=\n)", plain):
        if not line:
            continue
        esc = escape(line)
        if utf16_len(esc) <= limit:
            yield esc
            continue
        buf, n = [], 0
        for ch in line:
            e = escape(ch)
            k = utf16_len(e)
            if n + k > limit:
                yield "".join(buf)
                buf, n = [], 0
            buf.append(e)
            n += k
        if buf:
            yield "".join(buf)


def pack(atoms: Iterable[str], limit: int) -> list[str]:
    """Greedily join atoms (each at most `limit` long) into messages of at most `limit`;
    whitespace-only messages are dropped (chat APIs reject them)."""
    parts: list[str] = []
    cur, n = [], 0
    for a in atoms:
        k = utf16_len(a)
        if n + k > limit and cur:
            parts.append("".join(cur))
            cur, n = [], 0
        cur.append(a)
        n += k
    if cur:
        parts.append("".join(cur))
    return [p.strip("\n") for p in parts if p.strip()]


def footer_text(alert: Alert) -> str:
    """`web-1 · 2026-11-26T12:00:05Z`: where and when (plain text)."""
    bits = [alert.hostname] if alert.hostname else []
    bits.append(iso_utc(alert.ts))
    return " · ".join(bits)
