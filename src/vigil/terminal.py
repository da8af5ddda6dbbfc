"""Text from events is hostile: make it safe to print on a terminal.

A user name, a command line or a file name can carry escape sequences (`ESC ]0;...BEL`
retitles the window, `ESC [2J` clears the screen, `\\r` rewrites a line, a right-to-left
override reverses what follows). Every text that came from an event is passed through
`safe_text` before it reaches a terminal: control characters are shown escaped, never
interpreted.
"""

from __future__ import annotations

import re

#: C0 and C1 controls, DEL, and the Unicode bidirectional and invisible format controls
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                     "\ufeff\ufff9-\ufffb]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\r`, `\\u202e`).
    `keep_newlines` leaves line breaks for multi-line output (the rest is still escaped)."""
    s = text if isinstance(text, str) else str(text)
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_escape, line) for line in s.split("\n"))
    return _UNSAFE.sub(_escape, s)
