"""Defense evasion, impact and discovery (issue 12): masquerade, deleted_exe, timestomp,
ransomware, recon_burst, and service_tamper's tool kills, audit socket and log tampering.

Each attack test has its look-alike beside it; the events are what the eBPF sensor
reports for the behaviour (checked live in tests/ebpf/test_evasion_live.py).
"""

from __future__ import annotations

from detector_factories import (O_CREAT, O_TRUNC, O_WRONLY, T0, alerts, execve, init,
                                login_shell, open_file, proc, run, sec, syscall)

from vigil.detectors.deleted_exe import DeletedExeDetector
from vigil.detectors.masquerade import MasqueradeDetector
from vigil.detectors.ransomware import RansomwareDetector, RansomwareParams
from vigil.detectors.recon_burst import ReconBurstDetector
from vigil.detectors.service_tamper import ServiceTamperDetector
from vigil.detectors.timestomp import TimestompDetector
from vigil.events.model import Event, FdInfo
from vigil.priority import Priority


def root_shell():
    return login_shell(uid=0, user="root")


def created(p, path: str, ts: int) -> Event:
    """An open that created `path` for writing (the sensor's `created` = true)."""
    e = open_file(p, path, O_WRONLY | O_CREAT | O_TRUNC, ts=ts)
    e.args["created"] = True
    return e


# ------------------------------------------------------------------------ masquerade

def test_kernel_thread_names_on_executables_are_masquerading() -> None:
    shell = root_shell()
    # bash `exec -a '[kworker/1:1H]' /dev/shm/.x/kworker`: argv[0] bracketed, comm kworker
    kworker = proc("/dev/shm/.x/kworker", "4", pid=700, parent=shell, name="kworker")
    kworker.exe = "[kworker/1:1H]"
    # a miner renamed kswapd0 in a hidden directory of /var/tmp
    kswapd = proc("/var/tmp/.x/kswapd0", "-c", "config.json", pid=701, parent=shell)
    dets = run(MasqueradeDetector(), [execve(kworker), execve(kswapd)])
    assert [(d.rule_id, d.data["posing_as"]) for d in alerts(dets)] == [
        ("masquerade.kernel_thread", "[kworker/1:1H]"), ("masquerade.kernel_thread", "kswapd0")]
    assert dets[0].data["title"] == "Process masquerading as a kernel thread"
    assert dets[0].priority == Priority.ERROR and "T1036.004" in dets[0].tags


def test_prctl_rename_to_a_daemon_name_is_masquerading() -> None:
    py = proc("/tmp/vigil-x/.sysd", "-c", "...", pid=710, parent=root_shell(), name=".sysd")
    renamed = proc("/tmp/vigil-x/.sysd", "-c", "...", pid=710, parent=root_shell(), name="sshd")
    dets = run(MasqueradeDetector(), [execve(py), syscall(renamed, "prctl", option=15, arg2=0)])
    assert [(d.rule_id, d.data["posing_as"]) for d in dets] == [("masquerade.daemon", "sshd")]
    assert "prctl" in dets[0].output


def test_real_daemons_threads_and_init_are_not_masquerading() -> None:
    shell = root_shell()
    sbin_init = proc("/usr/lib/systemd/systemd", pid=1, name="init")   # /sbin/init -> systemd
    sbin_init.exe = "/sbin/init"
    sshd = proc("/usr/sbin/sshd", "-D", pid=720, parent=init())
    login = proc("/usr/bin/bash", pid=721, parent=sshd, name="bash")
    login.exe = "-bash"
    watchdog = proc("/usr/sbin/watchdog", pid=722, parent=init())        # a real daemon
    thread = proc("/usr/bin/gnome-shell", pid=723, parent=shell, name="gmain")
    sshd_renames = proc("/usr/sbin/sshd", pid=724, parent=sshd, name="sshd")
    built_sshd = proc("/home/dev/openssh/sshd", "-d", pid=725, parent=shell)
    dets = run(MasqueradeDetector(), [
        execve(sbin_init), execve(sshd), execve(login), execve(watchdog), execve(built_sshd),
        syscall(thread, "prctl", option=15, arg2=0),
        syscall(sshd_renames, "prctl", option=15, arg2=0),
        syscall(thread, "prctl", option=38, arg2=1)])     # PR_SET_NO_NEW_PRIVS
    assert dets == []


def test_sshd_file_in_tmp_is_masquerading_once() -> None:
    fake = proc("/tmp/.cache/sshd", pid=730, parent=root_shell())
    dets = run(MasqueradeDetector(), [execve(fake), execve(fake, ts=sec(1))])
    assert [d.rule_id for d in dets] == ["masquerade.daemon"]


# ------------------------------------------------------------------------ deleted_exe

def test_program_deleted_while_running_is_reported() -> None:
    shell = root_shell()
    dropper = proc("/tmp/vigil-x/.upd", "5", pid=800, parent=shell, name=".upd")
    rm = proc("/usr/bin/rm", "-f", "/tmp/vigil-x/.upd", pid=801, parent=shell)
    dets = run(DeletedExeDetector(), [execve(dropper), execve(rm, ts=sec(0.5)),
                                      syscall(rm, "unlinkat", ts=sec(0.5), dirfd=-100,
                                              name="/tmp/vigil-x/.upd", flags=0)])
    assert [d.rule_id for d in alerts(dets)] == ["deleted_exe.running_exe"]
    d = dets[0]
    assert d.data["victim_pid"] == 800 and d.data["self_deleted"] is False
    assert d.evidence[0].proc.pid == 800 and "world-writable" in d.output
    assert d.data["title"].startswith("Running program's executable deleted")


def test_self_deletion_is_reported() -> None:
    dropper = proc("/var/tmp/x", pid=810, parent=root_shell())
    dets = run(DeletedExeDetector(), [execve(dropper),
                                      syscall(dropper, "unlink", ts=sec(1), path="/var/tmp/x")])
    assert len(alerts(dets)) == 1 and dets[0].data["self_deleted"] is True


def test_deleting_the_file_of_a_finished_or_other_program_is_not_reported() -> None:
    shell = root_shell()
    test_bin = proc("/tmp/build/test_foo", pid=820, parent=shell)
    rm = proc("/usr/bin/rm", pid=821, parent=shell)
    later = proc("/usr/bin/sleep", pid=822, parent=shell)
    # the sensor's process table says who still runs the file (`exe_users`): nobody
    dets = run(DeletedExeDetector(), [
        execve(test_bin),
        syscall(rm, "unlink", ts=sec(2), path="/tmp/build/test_foo", exe_users=[]),
        execve(later), syscall(rm, "unlink", ts=sec(3), path="/tmp/other", exe_users=[])])
    assert dets == []


def test_exe_users_of_the_unlink_decide_whether_the_program_still_runs() -> None:
    shell = root_shell()
    test_bin = proc("/tmp/build/test_foo", pid=820, parent=shell)
    rm = proc("/usr/bin/rm", pid=821, parent=shell)
    dets = run(DeletedExeDetector(), [
        execve(test_bin),
        syscall(rm, "unlink", ts=sec(2), path="/tmp/build/test_foo", exe_users=[820])])
    assert [d.data["victim_pid"] for d in alerts(dets)] == [820]


def test_a_compiler_removing_files_is_never_a_deleted_program() -> None:
    shell = root_shell()
    victim = proc("/tmp/ccAbC.s", pid=840, parent=shell)   # whatever ran from there
    cc = proc("/usr/bin/x86_64-linux-gnu-gcc-12", "-c", "x.c", pid=841, parent=shell,
              name="cc")
    dets = run(DeletedExeDetector(), [
        execve(victim), syscall(cc, "unlink", ts=sec(1), path="/tmp/ccAbC.s",
                                exe_users=[840])])
    assert dets == []


def test_package_removal_of_a_running_program_is_suppressed() -> None:
    daemon = proc("/usr/sbin/foo", pid=830, parent=init())
    dpkg = proc("/usr/bin/dpkg", "--remove", "foo", pid=831, parent=root_shell())
    dets = run(DeletedExeDetector(), [execve(daemon),
                                      syscall(dpkg, "unlink", ts=sec(5), path="/usr/sbin/foo")])
    assert len(dets) == 1 and dets[0].suppressed.entry == "deleted_exe.package_managers=dpkg"


# ------------------------------------------------------------------------ timestomp

def utimensat(p, path: str | None, mtime: int | None, ts: int = T0, fd_name: str | None = None):
    args = {"dirfd": -100 if path else 0, "name": path or "", "flags": 0}
    if mtime is not None:
        args.update(atime=mtime, mtime=mtime)
    fd = FdInfo(num=0, type="file", name=fd_name) if fd_name else None
    return syscall(p, "utimensat", ts=ts, fd=fd, **args)


def test_backdated_system_files_are_timestomping() -> None:
    shell = root_shell()
    touch_r = proc("/usr/bin/touch", "-r", "/bin/ls", "/usr/local/bin/netcfg", pid=900, parent=shell)
    touch_t = proc("/usr/bin/touch", "-t", "201903041200", "/etc/netcfg.conf", pid=901, parent=shell)
    py = proc("/usr/bin/python3.11", "-c", "import os; os.utime(...)", pid=902, parent=shell,
              name="python3")
    y2019 = 1_552_000_000 * 10**9
    dets = run(TimestompDetector(), [
        # GNU touch reopens the file on fd 0 and calls futimens(0, times)
        utimensat(touch_r, None, y2019, fd_name="/usr/local/bin/netcfg"),
        utimensat(touch_t, None, y2019, fd_name="/etc/netcfg.conf"),
        utimensat(py, "/usr/lib/x86_64-linux-gnu/libz.so.1", y2019)])
    assert [d.entity.path for d in alerts(dets)] == [
        "/usr/local/bin/netcfg", "/etc/netcfg.conf", "/usr/lib/x86_64-linux-gnu/libz.so.1"]
    assert dets[0].data["title"] == "File timestamp backdated (timestomping)"
    assert "2019-03-07" in dets[0].output


def test_restored_times_recent_times_and_scratch_files_are_not_timestomping() -> None:
    shell = root_shell()
    y2019 = 1_552_000_000 * 10**9
    tar = proc("/usr/bin/tar", "xpf", "etc.tar", "-C", "/", pid=910, parent=shell)
    touch = proc("/usr/bin/touch", "/etc/nologin", pid=911, parent=shell)
    touch_tmp = proc("/usr/bin/touch", "-d", "@0", "/tmp/build/x.o", pid=912, parent=shell)
    dets = run(TimestompDetector(), [
        utimensat(tar, "/etc/hosts", y2019),                       # suppressed: restores
        utimensat(touch, None, None, fd_name="/etc/nologin"),       # "now": no times
        utimensat(touch, None, T0 - 60 * 10**9, fd_name="/etc/x"),  # a minute ago
        utimensat(touch_tmp, None, 0, fd_name="/tmp/build/x.o"),   # reproducible build
        syscall(touch, "utimensat", res=-1, dirfd=-100, name="/etc/x", mtime=y2019)])
    assert alerts(dets) == []
    assert [d.suppressed.entry for d in dets] == ["timestomp.time_preservers=tar"]


def test_account_tools_backup_copies_keep_the_originals_times() -> None:
    """Regression (benign chpasswd-scratch-user): useradd writes /etc/subuid- as a copy of
    /etc/subuid and gives it the original's (old) times."""
    useradd = proc("/usr/sbin/useradd", "-m", "alice", pid=920, parent=root_shell())
    dets = run(TimestompDetector(), [utimensat(useradd, "/etc/subuid-", 1_747_699_200 * 10**9)])
    assert alerts(dets) == [] and dets[0].suppressed.entry == "timestomp.time_preservers=useradd"


# ------------------------------------------------------------------------ ransomware

def encrypt_tree(n: int, writer: str = "/usr/bin/openssl", ext: str = "locked",
                 sid: int = 950):
    """`openssl enc -in F -out F.locked && rm F` for n files, one session."""
    shell = proc("/usr/bin/bash", "/tmp/r.sh", pid=sid, parent=init(), sid=sid)
    events = []
    for i in range(n):
        path = f"/srv/share/proj{i % 5}/doc{i}.txt"
        w = proc(writer, "enc", pid=2000 + 2 * i, parent=shell, sid=sid)
        rm = proc("/usr/bin/rm", "-f", path, pid=2001 + 2 * i, parent=shell, sid=sid)
        events += [created(w, f"{path}.{ext}", sec(i * 0.1)),
                   syscall(rm, "unlinkat", ts=sec(i * 0.1 + 0.05), dirfd=-100, name=path,
                           flags=0)]
    return events


def test_mass_rewrite_with_new_extension_is_ransomware() -> None:
    dets = run(RansomwareDetector(), encrypt_tree(40))
    assert [d.rule_id for d in alerts(dets)] == ["ransomware.mass_rewrite"]
    d = dets[0]
    assert d.priority == Priority.CRITICAL and d.data["files"] == 20
    assert d.data["extensions"] == {"locked": 20} and d.data["directories"] == 5
    assert "ransom" in d.data["title"].lower() and "encrypt" in d.data["title"].lower()


def test_in_place_encryption_then_rename_is_ransomware() -> None:
    shell = proc("/usr/bin/python3", "/tmp/x.py", pid=960, parent=init(), sid=960)
    events = [syscall(shell, "renameat2", ts=sec(i * 0.01), oldpath=f"/home/a/f{i}.docx",
                      newpath=f"/home/a/f{i}.docx.8xk2q", flags=0) for i in range(25)]
    assert len(alerts(run(RansomwareDetector(), events))) == 1


def test_compressors_few_files_and_rotations_are_not_ransomware() -> None:
    gz = run(RansomwareDetector(), encrypt_tree(30, writer="/usr/bin/gzip", ext="gz"))
    assert alerts(gz) == [] and gz[0].suppressed.entry == "ransomware.compressors=gzip"
    assert run(RansomwareDetector(), encrypt_tree(10)) == []
    # log rotation renames app.log -> app.log.1: a number is not a new format
    rot = proc("/usr/bin/python3", "app.py", pid=970, parent=init(), sid=970)
    events = [syscall(rot, "rename", ts=sec(i), oldpath=f"/var/log/a/s{i}.log",
                      newpath=f"/var/log/a/s{i}.log.1") for i in range(30)]
    assert run(RansomwareDetector(), events) == []
    # the same rewrite spread over more than the window is not a burst
    slow = RansomwareDetector(RansomwareParams.from_dict({"window_seconds": 1.0}))
    assert run(slow, encrypt_tree(40)) == []


# ------------------------------------------------------------------------ recon_burst

LINPEAS = [("/usr/bin/id",), ("/usr/bin/whoami",), ("/usr/bin/hostname",),
           ("/usr/bin/uname", "-a"), ("/usr/bin/cat", "/etc/os-release"),
           ("/usr/bin/cat", "/etc/passwd"), ("/usr/bin/ps", "aux"), ("/usr/bin/ss", "-tulpn"),
           ("/usr/sbin/ip", "a"), ("/usr/bin/mount",), ("/usr/bin/df", "-h"), ("/usr/bin/env",),
           ("/usr/bin/sudo", "-n", "-l"), ("/usr/bin/find", "/", "-perm", "-4000"),
           ("/usr/sbin/getcap", "-r", "/usr/bin"), ("/usr/bin/w",)]


def test_many_discovery_commands_in_one_session_are_reconnaissance() -> None:
    shell = proc("/usr/bin/bash", "/tmp/enum.sh", pid=1100, parent=init(), sid=1100)
    events = [execve(proc(c[0], *c[1:], pid=1101 + i, parent=shell, sid=1100), ts=sec(i * 0.2))
              for i, c in enumerate(LINPEAS)]
    dets = run(ReconBurstDetector(), events)
    assert [d.rule_id for d in alerts(dets)] == ["recon_burst.burst"]
    d = dets[0]
    assert len(d.data["commands"]) == 10 and "privileges" not in d.data["categories"]
    assert d.data["title"] == "Reconnaissance burst: many discovery commands"


def test_monitoring_loops_and_launchers_are_not_reconnaissance() -> None:
    shell = proc("/usr/bin/bash", "/usr/local/bin/metrics.sh", pid=1200, parent=init(),
                 sid=1200)
    loop = [("/usr/bin/ss", "-tanp"), ("/usr/sbin/ip", "-s", "link"), ("/usr/bin/ps", "-eo", "pid"),
            ("/usr/bin/cat", "/proc/loadavg"), ("/usr/bin/df", "-P", "/"), ("/usr/bin/free", "-m"),
            ("/usr/bin/env", "python3", "x.py"), ("/usr/bin/mount", "/dev/sdb1", "/mnt"),
            ("/usr/bin/sysctl", "-w", "vm.swappiness=10")]
    events = [execve(proc(c[0], *c[1:], pid=1201 + i, parent=shell, sid=1200), ts=sec(i * 0.1))
              for _ in range(20) for i, c in enumerate(loop)]
    assert run(ReconBurstDetector(), events) == []


def test_system_report_tool_is_suppressed() -> None:
    neo = proc("/usr/bin/bash", "/usr/bin/neofetch", pid=1300, parent=root_shell(), sid=1300)
    events = [execve(proc(c[0], *c[1:], pid=1301 + i, parent=neo, sid=1300), ts=sec(i * 0.1))
              for i, c in enumerate(LINPEAS)]
    dets = run(ReconBurstDetector(), events)
    assert alerts(dets) == [] and dets[0].suppressed.entry == "recon_burst.system_reporters=neofetch"


# ------------------------------------------------------------------------ service_tamper

def test_pkill_installed_as_a_link_to_pgrep_is_judged_by_argv0() -> None:
    """Regression: on Debian /usr/bin/pkill -> pgrep, and pgrep (listing) was excluded."""
    pkill = proc("/usr/bin/pgrep", "-9", "-P", "77", "-x", "falco", pid=1400,
                 parent=root_shell(), name="pkill")
    pkill.exe = "pkill"
    pgrep = proc("/usr/bin/pgrep", "-x", "falco", pid=1401, parent=root_shell())
    dets = run(ServiceTamperDetector(), [execve(pkill), execve(pgrep)])
    assert [(d.rule_id, d.data["service"]) for d in alerts(dets)] == [
        ("service_tamper.service_stop", "falco")]


def test_signals_to_security_tools_are_reported_once_per_act() -> None:
    shell = root_shell()
    py = proc("/usr/bin/python3", "-c", "os.kill(...)", pid=1410, parent=shell)
    pkill = proc("/usr/bin/pgrep", "-9", "osqueryd", pid=1411, parent=shell, name="pkill")
    pkill.exe = "pkill"
    dets = run(ServiceTamperDetector(), [
        syscall(py, "kill", pid=3001, sig=9, target_pid=3001, target_name="falco",
                target_exepath="/usr/bin/falco"),
        syscall(py, "kill", pid=3002, sig=1, target_pid=3002, target_name="auditd"),  # reload
        syscall(py, "kill", pid=3003, sig=15, target_pid=3003, target_name="nginx"),
        execve(pkill),
        syscall(pkill, "kill", pid=3004, sig=9, target_pid=3004, target_name="osqueryd"),
        syscall(init(), "kill", pid=3005, sig=15, target_pid=3005, target_name="auditd")])
    assert [(d.rule_id, d.data["service"]) for d in alerts(dets)] == [
        ("service_tamper.tool_kill", "falco"), ("service_tamper.service_stop", "osqueryd")]
    assert dets[-1].suppressed.entry == "service_tamper.service_manager=systemd"


def test_audit_netlink_socket_by_unexpected_program() -> None:
    py = proc("/usr/bin/python3", "/root/x.py", pid=1420, parent=root_shell())
    sudo = proc("/usr/bin/sudo", "-i", pid=1421, parent=login_shell())
    dets = run(ServiceTamperDetector(), [
        syscall(py, "socket", res=3, domain=16, type=3, proto=9),
        syscall(py, "socket", res=4, domain=16, type=3, proto=0),      # NETLINK_ROUTE
        syscall(sudo, "socket", res=3, domain=16, type=3, proto=9)])
    assert [d.rule_id for d in alerts(dets)] == ["service_tamper.audit_socket"]
    assert dets[1].suppressed.entry == "service_tamper.audit_clients=sudo"
    assert "audit" in dets[0].data["title"].lower() or "audit" in dets[0].output


def test_log_replaced_or_deleted_is_tampering() -> None:
    shell = root_shell()
    sed = proc("/usr/bin/sed", "-i", "/ install /d", "/var/log/dpkg.log", pid=1430, parent=shell)
    rm = proc("/usr/bin/rm", "-f", "/var/log/alternatives.log", pid=1431, parent=shell)
    dets = run(ServiceTamperDetector(), [
        created(sed, "/var/log/sedAbC123", T0),
        syscall(sed, "rename", ts=sec(0.1), oldpath="/var/log/sedAbC123",
                newpath="/var/log/dpkg.log"),
        syscall(rm, "unlinkat", ts=sec(0.2), dirfd=-100, name="/var/log/alternatives.log",
                flags=0)])
    assert [(d.rule_id, d.data["operation"]) for d in alerts(dets)] == [
        ("service_tamper.log_tamper", "replaced"), ("service_tamper.log_tamper", "deleted")]


def test_rotation_fresh_logs_and_history_saves_are_not_tampering() -> None:
    shell = root_shell()
    app = proc("/usr/bin/python3", "app.py", pid=1440, parent=shell)
    bash = proc("/usr/bin/bash", pid=1441, parent=shell)
    dets = run(ServiceTamperDetector(), [
        # RotatingFileHandler: service.log -> service.log.1, old backups removed
        syscall(app, "rename", oldpath="/var/log/app/service.log",
                newpath="/var/log/app/service.log.1"),
        syscall(app, "unlink", path="/var/log/app/service.log.3"),
        # a log the app created a moment ago, then removed
        created(app, "/var/log/app/startup.log", T0),
        syscall(app, "unlink", ts=sec(1), path="/var/log/app/startup.log"),
        # bash saves its history by renaming a temporary copy over it
        syscall(bash, "rename", oldpath="/root/.bash_history-01441.tmp",
                newpath="/root/.bash_history")])
    assert dets == []


# ------------------------------------------------------------------------ crypto_mining.stratum

def first_send(p, payload: str, port: int = 45001, etype: str = "write") -> Event:
    return Event(type=etype, ts=T0, res=len(payload), proc=p, args={"payload": payload},
                 fd=FdInfo(num=3, type="ipv4", l4proto="tcp", rip="127.0.0.1", rport=port,
                           role="client"))


def test_stratum_login_is_mining_whatever_the_name_and_port() -> None:
    from vigil.detectors.crypto_mining import CryptoMiningDetector

    miner = proc("/var/tmp/.x/kswapd0", "-c", "config.json", pid=1500, parent=root_shell())
    xmrig = ('{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4Wallet",'
             '"pass":"x","agent":"XMRig/6.21.0","algo":["rx/0"]}}\n')
    btc = '{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}\n'
    dets = run(CryptoMiningDetector(), [first_send(miner, xmrig),
                                        first_send(miner, btc, port=443, etype="sendto")])
    assert [(d.rule_id, d.data["method"], d.entity.ip) for d in dets] == [
        ("crypto_mining.stratum", "login", "127.0.0.1"),
        ("crypto_mining.stratum", "mining.subscribe", "127.0.0.1")]
    assert dets[0].priority == Priority.CRITICAL and "stratum" in dets[0].data["title"]


def test_other_first_messages_are_not_mining() -> None:
    from vigil.detectors.crypto_mining import CryptoMiningDetector

    app = proc("/usr/bin/node", "server.js", pid=1510, parent=init())
    dets = run(CryptoMiningDetector(), [
        first_send(app, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
        first_send(app, '{"jsonrpc":"2.0","method":"login","params":{"user":"a","password":"b"}}'),
        first_send(app, '{"jsonrpc":"2.0","id":3,"method":"eth_blockNumber","params":[]}'),
        Event(type="write", ts=T0, res=5, proc=app, args={}, fd=None)])
    assert dets == []


def test_lock_files_deleted_again_are_not_ransomware() -> None:
    """Regression (seen live on `git rebase`): git deletes a ref REF under REF.lock —
    create REF.lock, unlink REF, unlink REF.lock — twenty times in a second."""
    git = proc("/usr/bin/git", "rebase", "main", pid=1600, parent=init(), sid=1600)
    events = []
    for i in range(30):
        ref = f"/repo/.git/worktrees/wt/REF{i}"
        events += [created(git, f"{ref}.lock", sec(i * 0.01)),
                   syscall(git, "unlink", ts=sec(i * 0.01 + 0.001), path=ref),
                   syscall(git, "unlink", ts=sec(i * 0.01 + 0.002), path=f"{ref}.lock")]
        # and one updated under a lock that is renamed into place
        events += [created(git, f"{ref}.head.lock", sec(i * 0.01 + 0.003)),
                   syscall(git, "unlink", ts=sec(i * 0.01 + 0.004), path=f"{ref}.head"),
                   syscall(git, "rename", ts=sec(i * 0.01 + 0.005),
                           oldpath=f"{ref}.head.lock", newpath=f"{ref}.head")]
    assert run(RansomwareDetector(), events) == []


def test_a_parent_stopping_the_tool_it_started_is_suppressed() -> None:
    """An entrypoint script's trap stopping the rsyslogd it started is not tampering."""
    entry = proc("/usr/bin/bash", "/entrypoint.sh", pid=1700, parent=init())
    rsyslogd = proc("/usr/sbin/rsyslogd", "-n", pid=1701, parent=entry)
    other = proc("/usr/bin/bash", pid=1702, parent=root_shell())
    dets = run(ServiceTamperDetector(), [
        execve(rsyslogd),
        syscall(entry, "kill", ts=sec(5), pid=1701, sig=15, target_pid=1701,
                target_name="rsyslogd"),
        syscall(other, "kill", ts=sec(6), pid=1701, sig=9, target_pid=1701,
                target_name="rsyslogd")])
    assert [d.suppressed.entry if d.suppressed else d.rule_id for d in dets] == [
        "service_tamper.own_child=bash", "service_tamper.tool_kill"]
    # a tool started before the agent: the sensor names the target's parent
    runner = proc("/usr/bin/python3", "-m", "emulate", pid=1710, parent=init())
    dets = run(ServiceTamperDetector(), [
        syscall(runner, "kill", pid=1711, sig=15, target_pid=1711, target_name="vigil",
                target_ppid=1710)])
    assert [d.suppressed.entry for d in dets] == ["service_tamper.own_child=python3"]


def test_package_installs_in_a_chroot_restore_times() -> None:
    """Regression (seen live: a test building a Debian root file system under /tmp): dpkg
    in a chroot runs from <root>/usr/bin/dpkg, a world-writable place, and sets the times of
    the files it unpacks from the package."""
    root = "/tmp/build/debian12/root"
    apt = proc(f"{root}/usr/bin/apt-get", "install", "-y", "systemd", pid=1800, parent=root_shell())
    dpkg = proc(f"{root}/usr/bin/dpkg", "--unpack", pid=1801, parent=apt)
    helper = proc(f"{root}/usr/lib/x/helper", pid=1802, parent=dpkg)
    y2025 = 1_750_000_000 * 10**9
    dets = run(TimestompDetector(), [
        utimensat(dpkg, "/lib/systemd/system/systemd-reboot.service.dpkg-new", y2025),
        utimensat(helper, "/etc/x.conf", y2025)])
    assert alerts(dets) == []
    assert [d.suppressed.entry for d in dets] == ["timestomp.time_preservers=dpkg",
                                                  "timestomp.package_managers=dpkg"]
    # a stomper merely named like a system tool in /tmp is still judged
    fake = proc("/tmp/x/touch", "-r", "/bin/ls", "/usr/bin/y", pid=1803, parent=root_shell())
    assert len(alerts(run(TimestompDetector(), [utimensat(fake, "/usr/bin/y", y2025)]))) == 1


def test_directory_removals_are_neither_deleted_originals_nor_deleted_logs() -> None:
    """Regression (seen live): `rm -rf` / shutil.rmtree removes directories with
    unlinkat(AT_REMOVEDIR); a directory `Spec` next to a file `Spec.pm`, or /var/log/vigil
    itself, is not an original file or a log."""
    py = proc("/usr/bin/python3", "-m", "pytest", pid=1900, parent=init(), sid=1900)
    events = []
    for i in range(30):
        d = f"/tmp/root/usr/share/perl5/M{i}"
        events += [created(py, f"{d}.pm", sec(i * 0.1)),
                   syscall(py, "unlinkat", ts=sec(i * 0.1 + 0.05), dirfd=3, name=d, flags=0x200)]
    assert run(RansomwareDetector(), events) == []
    rm = proc("/usr/bin/rm", "-rf", "/var/log/vigil", pid=1901, parent=root_shell())
    assert run(ServiceTamperDetector(), [syscall(rm, "unlinkat", dirfd=-100,
                                                 name="/var/log/vigil", flags=0x200)]) == []
