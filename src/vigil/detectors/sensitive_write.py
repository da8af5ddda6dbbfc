"""`sensitive_write`: writes, renames and unlinks of the files that control a host.

Accounts (`passwd`, `shadow`, ...), sudoers, `sshd_config`, `authorized_keys`, PAM, cron
and at jobs, systemd units, init scripts and `rc.local`, udev rules, `ld.so.preload`, shell
profiles and TLS private keys; links and symlinks planted at those paths count as writes.
Removing a job, unit, boot script, udev rule or start-up file runs nothing and is not
reported. A write by the tool made for the file (`visudo` for sudoers, `certbot` under
`/etc/letsencrypt/`, package managers and their maintainer scripts for anything) is
returned suppressed (static layer), as is one by a configuration-management agent (Puppet,
Chef, Salt, CFEngine, or an Ansible module run from ~/.ansible/tmp); any other writer is
reported. Failed syscalls are
ignored unless `report_failed` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import fd_path, int_arg, str_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.path_patterns import PathPatterns
from vigil.detectors.process_identity import (PACKAGE_MANAGERS, AgentIdentity, ancestors,
                                              matched_binary, script_path)
from vigil.detectors.sensitive_write_allowlist import (ANSIBLE_MODULE_PATTERN,
                                                       CATEGORY_CREATORS, CATEGORY_OWNERS,
                                                       CATEGORY_PATTERNS,
                                                       CATEGORY_TAGS,
                                                       CONFIG_MANAGEMENT_AGENTS, LAUNCHERS,
                                                       SENSITIVE_WRITE_PATHS)
from vigil.events.flags import O_CREAT, is_open_write
from vigil.events.model import Event, Process
from vigil.priority import Priority

NAME = "sensitive_write"
_OPEN_TYPES = frozenset({"open", "openat", "openat2", "creat"})
_RENAME_TYPES = frozenset({"rename", "renameat", "renameat2"})
_UNLINK_TYPES = frozenset({"unlink", "unlinkat"})
_TRUNCATE_TYPES = frozenset({"truncate", "ftruncate"})
#: a link or symlink planted at a sensitive path replaces its content just as well
_LINK_TYPES = frozenset({"link", "linkat", "symlink", "symlinkat"})

#: categories whose threat is code added to run later (a job, a unit, a boot script, a
#: start-up file): removing a file there runs nothing, so `userdel -r` deleting a home's
#: `.bashrc` or `atrm` deleting a job is not persistence
_ADDED_CODE_CATEGORIES = frozenset({"at_jobs", "cron", "systemd_units", "init_scripts",
                                    "udev_rules", "shell_profiles"})
_REMOVALS = frozenset({"unlink", "rename away"})

_PRIORITY: dict[str, Priority] = {
    "ld_preload": Priority.CRITICAL, "accounts": Priority.ERROR, "sudoers": Priority.ERROR,
    "pam": Priority.ERROR, "sshd_config": Priority.ERROR, "authorized_keys": Priority.ERROR,
}


@dataclass(frozen=True)
class SensitiveWriteParams(DetectorParams):
    """`[detectors.sensitive_write]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more files to watch (exact path, directory prefix ending in `/`, or glob)
    extra_paths: tuple[str, ...] = ()
    #: also report attempts that failed (EACCES, EPERM ...)
    report_failed: bool = False


def _written_paths(event: Event) -> list[tuple[str, str]]:
    """(verb, path) pairs the event modifies."""
    t = event.type
    if t in _OPEN_TYPES:
        flags = int_arg(event, "flags")
        if t != "creat" and (flags is None or not (is_open_write(flags) or flags & O_CREAT)):
            return []
        path = fd_path(event) or str_arg(event, "name")
        return [("write", path)] if path else []
    if t in _RENAME_TYPES:
        return [(verb, p) for verb, p in (("rename onto", str_arg(event, "newpath")),
                                          ("rename away", str_arg(event, "oldpath"))) if p]
    if t in _UNLINK_TYPES:
        path = str_arg(event, "path", "name")
        return [("unlink", path)] if path else []
    if t in _LINK_TYPES:
        path = str_arg(event, "newpath", "linkpath")
        return [("link", path)] if path else []
    if t in _TRUNCATE_TYPES:
        path = str_arg(event, "path") or fd_path(event)
        return [("truncate", path)] if path else []
    return []


def _config_management(proc: Process, category: str) -> Suppression | None:
    """A configuration-management agent, or an Ansible module, doing its job."""
    for p in (proc, *ancestors(proc, 8)):
        agent = matched_binary(p, CONFIG_MANAGEMENT_AGENTS)
        if agent is not None:
            return static_suppression(NAME, "config_management", agent,
                                      f"{agent} manages this host's {category} files")
        script = script_path(p)
        if script is not None and ANSIBLE_MODULE_PATTERN.match(script):
            module = script.rpartition("/AnsiballZ_")[2].removesuffix(".py")
            return static_suppression(NAME, "config_management", f"ansible:{module}",
                                      f"the Ansible module {module} manages this host's "
                                      f"{category} files")
    return None


class SensitiveWriteDetector(BuiltinDetector):
    """Changes to account, auth, persistence and key files by anything but their tools."""

    name = NAME
    Params = SensitiveWriteParams
    #: read-only opens it needs for the kernel filter (vigil.rules.kernel_filters): none,
    #: it looks at writes and creations only
    kernel_read_paths: tuple[str, ...] = ()
    event_types = frozenset(_OPEN_TYPES | _RENAME_TYPES | _UNLINK_TYPES | _TRUNCATE_TYPES
                            | _LINK_TYPES)

    params: SensitiveWriteParams

    def __init__(self, params: SensitiveWriteParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._extra = PathPatterns({"configured": self.params.extra_paths})
        #: the compiler toolchain's writes it needs, for the kernel filter
        #: (vigil.rules.kernel_filters): those of the files it watches, whoever writes
        self.kernel_write_paths: tuple[str, ...] = tuple(
            p for patterns in CATEGORY_PATTERNS.values() for p in patterns
        ) + tuple(self.params.extra_paths)

    def _suppression(self, event: Event, category: str) -> Suppression | None:
        proc = event.proc
        owners = CATEGORY_OWNERS.get(category, frozenset())
        tool = matched_binary(proc, owners | PACKAGE_MANAGERS)
        if tool is None:
            launchers = (owners | PACKAGE_MANAGERS) & LAUNCHERS
            tool = next((hit for a in ancestors(proc, 8)
                         if (hit := matched_binary(a, launchers))), None)
        if tool is None and event.type in _OPEN_TYPES and event.args.get("created") is True:
            creator = matched_binary(proc, CATEGORY_CREATORS.get(category, frozenset()))
            if creator is not None:
                return static_suppression(NAME, "key_generators", creator,
                                          f"{creator} created a new file; nothing existing "
                                          "was replaced")
        if tool is None:
            return _config_management(proc, category)
        which = "package_managers" if tool in PACKAGE_MANAGERS else "owners"
        return static_suppression(NAME, which, tool,
                                  f"{tool} is the tool made to change {category} files")

    def on_event(self, event: Event) -> list[Detection]:
        """Report a sensitive file being modified."""
        if event.res is not None and event.res < 0 and not self.params.report_failed:
            return []
        for verb, path in _written_paths(event):
            hit = SENSITIVE_WRITE_PATHS.match(path) or self._extra.match(path)
            if hit is None:
                continue
            category = hit[0]
            if verb in _REMOVALS and category in _ADDED_CODE_CATEGORIES:
                continue
            output = (f"Sensitive file {path} ({category}) modified ({verb}, {event.type}) "
                      f"by {describe_process(event)}: {event.proc.cmdline() or '?'}")
            return [build_detection(
                NAME, category if category != "configured" else "configured_path",
                _PRIORITY.get(category, Priority.WARNING), output,
                CATEGORY_TAGS.get(category, ("attack.persistence",)), event, path=path,
                data={"category": category, "operation": verb, "pattern": hit[1]},
                suppressed=self._suppression(event, category))]
        return []
