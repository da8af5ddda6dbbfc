"""What a `sh -c '<command>'` runs: the binaries of each stage, not the words around them.

Detectors that look at shell one-liners judge the commands a shell will execute (the first
word of each stage, after `sudo`, `env`, `VAR=value` and the like), so `cc -I/usr/include`
is judged as `cc` and `echo curl` as `echo`. Stages are split on `|`, `;`, `&&`, `||`, `&`,
newlines and subshell parentheses; a stage records whether it pipes into the next.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from vigil.events.model import Process
from vigil.detectors.process_identity import is_shell

#: words that run the command after them
_PREFIX_COMMANDS = frozenset({
    "sudo", "env", "nohup", "exec", "time", "nice", "ionice", "command", "builtin",
    "setsid", "stdbuf", "doas", "chronic", "xargs",
})
#: options of prefix commands that take a value (`sudo -u bob cmd`, `timeout 5 cmd`)
_OPTIONS_WITH_VALUE = frozenset({"-u", "-g", "-p", "-C", "-D", "-r", "-t", "-U", "-h", "-n",
                                 "-c", "-s", "-k"})
_PREFIX_WITH_ARG = frozenset({"timeout"})
_SEPARATOR_CHARS = frozenset(";&|()")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Stage:
    """One simple command of a shell line: its binary (basename) and its words."""

    binary: str
    words: tuple[str, ...]
    pipes_to_next: bool


def shell_command_of(proc: Process) -> str | None:
    """The `-c` command string of a shell process, or None for other processes."""
    if not is_shell(proc):
        return None
    args = proc.args
    for i, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
            return args[i + 1] if i + 1 < len(args) else None
        if not arg.startswith("-"):
            return None  # a script file, not an inline command
    return None


def _tokens(command: str) -> list[str]:
    lex = shlex.shlex(command.replace("$(", " ( ").replace("`", " ; "), posix=True,
                      punctuation_chars=";&|()<>")
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError:  # unbalanced quotes: fall back to whitespace words
        return re.split(r"\s+|(?=[;|&()])|(?<=[;|&()])", command)


def _stage_binary(words: list[str]) -> str | None:
    i = 0
    while i < len(words):
        w = words[i]
        base = os.path.basename(w)
        if _ASSIGNMENT.match(w):
            i += 1
        elif w.startswith("-"):
            # inside a prefix command, some options consume the next word
            i += 2 if (i > 0 and w in _OPTIONS_WITH_VALUE) else 1
        elif base in _PREFIX_COMMANDS:
            i += 1
        elif base in _PREFIX_WITH_ARG:
            i += 2
        elif w.isdigit() or w in ("<", ">", ">>", ">&", "<&", "<<", "<>", "&>", "2>", "!"):
            i += 1
        else:
            return base or None
    return None


def _flush(stages: list[Stage], words: list[str], piped: bool) -> None:
    cleaned = [w for w in words if w]
    binary = _stage_binary(cleaned)
    if binary:
        stages.append(Stage(binary, tuple(cleaned), piped))


@lru_cache(maxsize=4096)
def command_stages(command: str) -> tuple[Stage, ...]:
    """The simple commands of a shell command line, in order.

    Cached: servers run the same few command lines over and over, and the result is
    immutable.
    """
    stages: list[Stage] = []
    words: list[str] = []
    for tok in _tokens(command.replace("\n", " ; ")):
        if tok in ("|", "|&"):
            _flush(stages, words, True)
            words = []
        elif tok and set(tok) <= _SEPARATOR_CHARS:
            _flush(stages, words, False)
            words = []
        else:
            words.append(tok)
    _flush(stages, words, False)
    return tuple(stages)


def pipelines(stages: tuple[Stage, ...] | list[Stage]) -> list[list[Stage]]:
    """Stages grouped into pipelines (`a | b | c` is one group)."""
    groups: list[list[Stage]] = []
    current: list[Stage] = []
    for st in stages:
        current.append(st)
        if not st.pipes_to_next:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups
