"""Sigma's CommandLine is argv joined (argv[0] as the process was started, then the
arguments), as Sysmon and auditd's EXECVE record show it, not the kernel's 15-character
comm followed by the arguments."""

from __future__ import annotations

from test_sigma_modifiers import box

from sigma_event_spec import build_event
from vigil.events.fields import DEFAULT_FIELDS

EXPORTER = "prometheus-node-exporter --collector.systemd --web.listen-address=:9100"


def test_a_program_name_longer_than_the_comm(tmp_path):
    b = box(tmp_path, {"sel": {"CommandLine|contains": "node-exporter --collector.systemd"},
                       "condition": "sel"})
    spec = {"exec": EXPORTER, "exepath": "/usr/bin/prometheus-node-exporter"}
    assert build_event(spec).proc.name == "prometheus-node"  # what the kernel keeps
    assert b.fires(**spec)
    assert not b.fires(exec="prometheus-node-exporter --version",
                       exepath="/usr/bin/prometheus-node-exporter")


def test_a_path_in_argv0(tmp_path):
    b = box(tmp_path, {"sel": {"CommandLine|startswith": "/tmp/.cache/kworker -o "},
                       "condition": "sel"})
    assert b.fires(exec="/tmp/.cache/kworker -o pool.example:3333",
                   exepath="/tmp/.cache/kworker")
    # the same program started by name: argv[0] is what the command line shows
    assert not b.fires(exec="kworker -o pool.example:3333", exepath="/tmp/.cache/kworker")


def test_exact_command_line_and_the_parents(tmp_path):
    b = box(tmp_path, {"sel": {"CommandLine": "/usr/sbin/sshd -D -R",
                               "ParentCommandLine|startswith": "/usr/lib/systemd/systemd "},
                       "condition": "sel"})
    parent = {"exec": "/usr/lib/systemd/systemd --system --deserialize 31",
              "exepath": "/usr/lib/systemd/systemd"}
    assert b.fires(exec="/usr/sbin/sshd -D -R", exepath="/usr/sbin/sshd", parent=parent)
    assert not b.fires(exec="sshd -D -R", exepath="/usr/sbin/sshd", parent=parent)


def test_keywords_search_the_full_command_line(tmp_path):
    b = box(tmp_path, {"keywords": ["/dev/shm/.x/updaterd --hidden"],
                       "condition": "keywords"}, {"product": "linux"})
    assert b.fires(exec="/dev/shm/.x/updaterd --hidden", exepath="/dev/shm/.x/updaterd")


def test_the_fields_and_the_detection_output(tmp_path):
    ev = build_event({"exec": EXPORTER, "exepath": "/usr/bin/prometheus-node-exporter",
                      "parent": {"exec": "/bin/sh -c exporter", "exepath": "/usr/bin/dash"}})
    line = DEFAULT_FIELDS.extractor("proc.exeline")
    assert line(ev) == EXPORTER
    assert DEFAULT_FIELDS.extractor("proc.pexeline")(ev) == "/bin/sh -c exporter"
    assert DEFAULT_FIELDS.extractor("evt.text")(ev) == EXPORTER
    ev.proc.exe = None  # argv[0] unknown: the comm-based command line
    assert line(ev) == ev.proc.cmdline()
    b = box(tmp_path, {"sel": {"Image|endswith": "/prometheus-node-exporter"},
                       "condition": "sel"})
    [det] = b.engine.on_event(build_event({"exec": EXPORTER,
                                           "exepath": "/usr/bin/prometheus-node-exporter"}))
    assert f"cmdline={EXPORTER}" in det.output
