"""stolen_ssh_key: another account's private key used to log in (issue 12: the lateral
movement scenario was titled "Outbound SSH to a non-standard port")."""

from __future__ import annotations

from detector_factories import execve, init, login_shell, open_file, proc, run, sec

from vigil.detectors.stolen_ssh_key import StolenSshKeyDetector, identity_files, key_owner

O_WRONLY_CREAT_TRUNC = 0o1101


def root_shell():
    return proc("/usr/bin/bash", pid=900, parent=init(), user="root")


def test_copy_of_another_accounts_key_used_with_ssh_i() -> None:
    sh = root_shell()
    cp = proc("/usr/bin/cp", "/home/deploy/.ssh/id_ed25519", "/tmp/x/.k", pid=901, parent=sh)
    ssh = proc("/usr/bin/ssh", "-o", "BatchMode=yes", "-i", "/tmp/x/.k", "-p", "2222",
               "root@198.18.4.2", "id", pid=902, parent=sh)
    dets = run(StolenSshKeyDetector(), [
        open_file(cp, "/home/deploy/.ssh/id_ed25519", ts=sec(0)),
        open_file(cp, "/tmp/x/.k", flags=O_WRONLY_CREAT_TRUNC, ts=sec(0.01), res=4),
        execve(ssh, ts=sec(1))])
    assert [d.rule_id for d in dets] == ["stolen_ssh_key.login"]
    d = dets[0]
    assert d.data["owner"] == "deploy" and d.entity.path == "/tmp/x/.k"
    assert d.data["title"] == "SSH login with another account's private key (stolen key)"
    assert "copy of deploy's key /home/deploy/.ssh/id_ed25519 (made by cp)" in d.output


def test_another_accounts_key_used_in_place() -> None:
    alice = login_shell()
    ssh = proc("/usr/bin/ssh", "-i", "/home/bob/.ssh/id_rsa", "bob@10.0.0.7", pid=910,
               uid=1000, user="alice", parent=alice)
    scp = proc("/usr/bin/scp", "-o", "IdentityFile=/root/.ssh/id_ed25519", "f", "h:", pid=911,
               uid=1000, user="alice", parent=alice)
    dets = run(StolenSshKeyDetector(), [execve(ssh), execve(scp)])
    assert [d.data["owner"] for d in dets] == ["bob", "root"]


def test_own_keys_system_keys_and_public_halves_are_not_reported() -> None:
    alice = login_shell()
    sh = root_shell()
    cp = proc("/usr/bin/cp", pid=921, parent=sh)
    events = [
        execve(proc("/usr/bin/ssh", "-i", "/home/alice/.ssh/id_ed25519", "h", pid=920,
                    uid=1000, user="alice", parent=alice)),
        execve(proc("/usr/bin/ssh", "-i", "/etc/backup/id_backup", "h", pid=922, parent=sh)),
        execve(proc("/usr/bin/ssh", "-i", "/tmp/ci-key", "h", pid=923, parent=sh)),
        # root installing a user's public key, reading known_hosts
        open_file(cp, "/home/bob/.ssh/id_rsa.pub", ts=sec(0)),
        open_file(cp, "/tmp/pub", flags=O_WRONLY_CREAT_TRUNC, ts=sec(0.1), res=4),
        execve(proc("/usr/bin/ssh", "-i", "/tmp/pub", "h", pid=924, parent=sh), ts=sec(1)),
    ]
    assert run(StolenSshKeyDetector(), events) == []


def test_helpers() -> None:
    assert key_owner("/home/bob/.ssh/id_rsa") == "bob"
    assert key_owner("/root/.ssh/../.ssh/id_ecdsa") == "root"
    assert key_owner("/home/bob/.ssh/known_hosts") is None
    assert key_owner("/home/bob/.ssh/id_rsa.pub") is None
    p = proc("/usr/bin/ssh", "-i", "k", "-oIdentityFile=/a/b", "-o", "IdentityFile /c",
             "-i/d", pid=1, cwd="/work")
    assert identity_files(p) == ["/work/k", "/a/b", "/c", "/d"]
