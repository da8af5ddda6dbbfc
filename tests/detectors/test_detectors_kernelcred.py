"""Kernel code loads, privilege escalation and credential access (issue 12): module load
attempts the kernel refused, BPF program loads, file capabilities, ptrace injection that
ran code, memory of authentication processes, shell escapes from programs run with sudo,
new keys made by key generators. Events are synthetic, shaped like the eBPF sensor's."""

from __future__ import annotations

from detector_factories import (O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, alerts, execve,
                                init, login_shell, open_file, proc, run, sec, syscall)

from vigil.detectors.bpf_program import BpfProgramDetector
from vigil.detectors.kernel_module import KernelModuleDetector
from vigil.detectors.privilege_escalation import PrivilegeEscalationDetector
from vigil.detectors.process_identity import AgentIdentity
from vigil.detectors.process_memory import ProcessMemoryDetector
from vigil.detectors.ptrace import PtraceDetector
from vigil.detectors.registry import DETECTORS
from vigil.detectors.sensitive_write import SensitiveWriteDetector
from vigil.detectors.suid_binary import SuidBinaryDetector
from vigil.events.model import FdInfo
from vigil.priority import Priority

ENOEXEC, ENOENT, EPERM = -8, -2, -1


def _root_shell():
    return login_shell(uid=0, user="root")


# -- kernel_module: refused attempts are the signal -----------------------------------------

def test_refused_module_loads_are_reported_as_attempts() -> None:
    shell = _root_shell()
    loader = proc("/usr/bin/python3.11", "kernel_calls.py", pid=800, parent=shell,
                  name="python3")
    insmod = proc("/usr/bin/kmod", "/var/tmp/x/reptile.ko", pid=801, parent=shell,
                  name="insmod")
    dets = run(KernelModuleDetector(), [
        syscall(loader, "finit_module", res=ENOEXEC,
                fd=FdInfo(num=3, type="file", name="/tmp/x/diamorphine.ko")),
        syscall(loader, "init_module", res=ENOEXEC, length=16384),
        syscall(insmod, "finit_module", res=ENOEXEC,
                fd=FdInfo(num=3, type="file", name="/var/tmp/x/reptile.ko"))])
    assert [(d.rule_id, d.priority, d.data["title"]) for d in alerts(dets)] == [
        ("kernel_module.load", Priority.CRITICAL, "Kernel module load attempted"),
        ("kernel_module.memory_load", Priority.CRITICAL,
         "Kernel module load attempted from memory"),
        ("kernel_module.load", Priority.CRITICAL, "Kernel module load attempted")]
    assert "refused: ENOEXEC" in dets[0].output and dets[0].entity.path == "/tmp/x/diamorphine.ko"


def test_refused_attempts_by_system_loaders_stay_suppressed() -> None:
    udevd = proc("/usr/lib/systemd/systemd-udevd", pid=810, parent=init())
    dets = run(KernelModuleDetector(), [syscall(
        udevd, "finit_module", res=-17,  # EEXIST: already loaded
        fd=FdInfo(num=3, type="file", name="/lib/modules/6.1.0/kernel/fs/fuse.ko"))])
    assert len(dets) == 1 and dets[0].suppressed is not None


def test_module_unload_is_reported_as_a_warning() -> None:
    rmmod = proc("/usr/bin/kmod", "lkrg", pid=820, parent=_root_shell(), name="rmmod")
    dets = run(KernelModuleDetector(), [syscall(rmmod, "delete_module", name="lkrg", flags=0),
                                        syscall(rmmod, "delete_module", res=ENOENT,
                                                name="nosuch", flags=0)])
    assert [(d.rule_id, d.priority, d.data["title"]) for d in alerts(dets)] == [
        ("kernel_module.unload", Priority.WARNING, "Kernel module unloaded"),
        ("kernel_module.unload", Priority.WARNING, "Kernel module unload attempted")]


# -- bpf_program -------------------------------------------------------------------------------

def _bpf(p, prog_type: int, res: int = 3, cmd: int = 5, name: str = ""):
    return syscall(p, "bpf", res=res, cmd=cmd, size=128, prog_type=prog_type, insn_cnt=2,
                   prog_name=name)


def test_bpf_program_loads_by_anything_but_the_system() -> None:
    shell = _root_shell()
    py = proc("/usr/bin/python3.11", "loader.py", pid=830, parent=shell, name="python3")
    bpftool = proc("/usr/sbin/bpftool", "prog", "load", "/tmp/p.o", "/sys/fs/bpf/x",
                   pid=831, parent=shell)
    dets = run(BpfProgramDetector(), [
        _bpf(py, 1), _bpf(py, 2, name="hide"), _bpf(bpftool, 2, res=EPERM),
        _bpf(py, 0, cmd=0)])  # BPF_MAP_CREATE: not a program
    assert [(d.rule_id, d.priority, d.data["title"]) for d in alerts(dets)] == [
        ("bpf_program.load", Priority.ERROR, "BPF program loaded into the kernel"),
        ("bpf_program.tracing_load", Priority.CRITICAL, "BPF program loaded into the kernel"),
        ("bpf_program.tracing_load", Priority.CRITICAL, "BPF program load attempted")]
    assert "kprobe program 'hide'" in dets[1].output


def test_bpf_by_systemd_runc_and_the_agent_itself() -> None:
    systemd = init()
    runc = proc("/usr/bin/runc", "init", pid=840, parent=proc("/usr/bin/containerd-shim-runc-v2",
                                                                pid=839, parent=systemd))
    agent = proc("/usr/bin/python3.11", "/usr/bin/vigil", "run", pid=4242, parent=systemd)
    recorder = proc("/usr/bin/python3.11", "/usr/bin/vigil", "record", "-o", "x.jsonl",
                    pid=4300, parent=_root_shell())
    fake = proc("/usr/bin/python3.11", "/tmp/vigil", pid=4301, parent=_root_shell())
    det = BpfProgramDetector(own=AgentIdentity(pid=4242))
    dets = run(det, [_bpf(systemd, 15), _bpf(runc, 15), _bpf(agent, 26), _bpf(recorder, 26),
                     _bpf(fake, 26)])
    assert [d.suppressed.entry if d.suppressed else None for d in dets] == [
        "bpf_program.system_loaders=systemd", "bpf_program.system_loaders=runc",
        "bpf_program.system_loaders=vigil", None]


def test_new_detectors_are_registered() -> None:
    assert {"bpf_program", "process_memory"} <= set(DETECTORS)


# -- suid_binary: file capabilities -------------------------------------------------------

def test_setcap_cap_setuid_on_an_interpreter_copy() -> None:
    setcap = proc("/usr/sbin/setcap", "cap_setuid+ep", "/var/tmp/x/perl", pid=850,
                  parent=_root_shell())
    dets = run(SuidBinaryDetector(), [
        syscall(setcap, "setxattr", path="/var/tmp/x/perl", name="security.capability",
                size=20, flags=0, cap_permitted=1 << 7, cap_inheritable=0, cap_effective=True),
        syscall(setcap, "setxattr", path="/usr/local/bin/srv", name="security.capability",
                size=20, flags=0, cap_permitted=1 << 10, cap_inheritable=0, cap_effective=True),
        syscall(setcap, "setxattr", path="/srv/f", name="user.comment", size=3, flags=0)])
    assert [(d.rule_id, d.priority) for d in alerts(dets)] == [
        ("suid_binary.file_caps", Priority.CRITICAL), ("suid_binary.file_caps", Priority.WARNING)]
    assert dets[0].data["title"] == "File capabilities set on a program (setcap)"
    assert "cap_setuid" in dets[0].output


def test_setcap_in_a_package_postinst_is_suppressed() -> None:
    dpkg = proc("/usr/bin/dpkg", "-i", "tool.deb", pid=860, parent=_root_shell())
    postinst = proc("/usr/bin/dash", "/var/lib/dpkg/info/tool.postinst", "configure",
                    pid=861, parent=dpkg, name="tool.postinst")
    setcap = proc("/usr/sbin/setcap", "cap_net_raw+ep", "/usr/bin/tool", pid=862,
                  parent=postinst)
    dets = run(SuidBinaryDetector(), [syscall(
        setcap, "setxattr", path="/usr/bin/tool", name="security.capability", size=20,
        flags=0, cap_permitted=1 << 13, cap_inheritable=0, cap_effective=True)])
    assert [d.suppressed.entry for d in dets] == ["suid_binary.package_managers=dpkg"]


# -- privilege_escalation: shell escapes from programs run with sudo ----------------------

def _sudo_chain(program: str, *args: str, invoker_uid: int = 1001, monitor: bool = False):
    shell = login_shell(uid=invoker_uid, user="ops" if invoker_uid else "root")
    sudo = proc("/usr/bin/sudo", program, *args, pid=901, uid=0, parent=shell)
    if monitor:  # sudo with use_pty: a second sudo between
        sudo = proc("/usr/bin/sudo", program, *args, pid=902, uid=0, parent=sudo)
    prog = proc(program, *args, pid=903, uid=0, parent=sudo)
    return proc("/usr/bin/dash", "-c", "id; head -1 /etc/shadow", pid=904, uid=0,
                parent=prog, name="sh")


def test_find_exec_sh_under_sudo_is_a_root_shell_escape() -> None:
    sh = _sudo_chain("/usr/bin/find", "/etc", "-exec", "/bin/sh", "-c", "id", ";")
    vim_sh = _sudo_chain("/usr/bin/vim.basic", "/etc/hosts", monitor=True)
    dets = run(PrivilegeEscalationDetector(), [execve(sh), execve(vim_sh)])
    assert [(d.rule_id, d.priority, d.data["program"]) for d in alerts(dets)] == [
        ("privilege_escalation.sudo_shell_escape", Priority.CRITICAL, "find"),
        ("privilege_escalation.sudo_shell_escape", Priority.CRITICAL, "vim.basic")]
    assert "GTFOBins" in dets[0].data["title"] and "root shell" in dets[0].data["title"]


def test_sudo_shells_and_command_runners_are_not_escapes() -> None:
    sudo_sh = _sudo_chain("/usr/bin/dash", "-c", "echo").parent  # sudo sh -c: the policy
    make_sh = _sudo_chain("/usr/bin/make", "install")             # make runs recipes
    by_root = _sudo_chain("/usr/bin/find", "-exec", "sh", invoker_uid=0)
    dets = run(PrivilegeEscalationDetector(), [execve(sudo_sh), execve(make_sh),
                                               execve(by_root)])
    assert alerts(dets) == []


# -- privilege_escalation: the uid before the call -----------------------------------------

def test_setuid_to_root_by_a_non_root_process_under_a_root_parent() -> None:
    # perl with cap_setuid, run by nobody from a root shell: the record's uid is the one
    # the call left (0); the sensor's uid_before says who it was
    shell = _root_shell()
    perl = proc("/var/tmp/x/perl", "-e", "setuid(0)", pid=870, uid=0, parent=shell)
    dets = run(PrivilegeEscalationDetector(), [
        syscall(perl, "setuid", uid=0, uid_before=65534, euid_before=65534),
        syscall(perl, "setuid", uid=0, uid_before=0, euid_before=0)])
    assert [(d.rule_id, d.priority) for d in alerts(dets)] == [
        ("privilege_escalation.setuid_root", Priority.CRITICAL)]


# -- ptrace: credential dumping and injected code -----------------------------------------

def test_debugger_attached_to_sshd_is_credential_dumping() -> None:
    gdb = proc("/usr/bin/gdb", "-p", "812", pid=910, parent=_root_shell())
    dets = run(PtraceDetector(), [
        syscall(gdb, "ptrace", request=16, pid=812, target_pid=812, target_name="sshd",
                target_exepath="/usr/sbin/sshd"),
        syscall(gdb, "ptrace", request=16, pid=900, target_pid=900, target_name="myapp")])
    assert [(d.rule_id, d.priority, d.suppressed is None) for d in dets] == [
        ("ptrace.credential_dump", Priority.CRITICAL, True),
        ("ptrace.attach", Priority.ERROR, False)]
    assert dets[0].data["title"] == "Credential dumping: ptrace attach to sshd"


def test_code_injected_with_gdb_call_system_is_reported_when_it_runs() -> None:
    shell = _root_shell()
    target = proc("/tmp/x/rsyslogd", "60", pid=920, parent=shell)
    gdb = proc("/usr/bin/gdb", "-q", "-batch", "-p", "920", pid=921, parent=shell)
    child = proc("/usr/bin/dash", "-c", "id > /tmp/x/injected", pid=922, parent=target,
                 name="sh")
    det = PtraceDetector()
    dets = run(det, [syscall(gdb, "ptrace", ts=sec(0), request=16, pid=920),
                     syscall(gdb, "ptrace", ts=sec(0.1), request=13, pid=920),
                     execve(child, ts=sec(0.2))])
    assert [d.suppressed.entry for d in dets[:2]] == ["ptrace.debuggers=gdb"] * 2
    assert [(d.rule_id, d.priority, d.suppressed) for d in dets[2:]] == [
        ("ptrace.injected_exec", Priority.CRITICAL, None)]
    assert len(dets[2].evidence) == 2
    # a long session: attached for minutes, each write keeps it attached
    det = PtraceDetector()
    writes = [syscall(gdb, "ptrace", ts=sec(t), request=0x4205, pid=920) for t in (50, 100)]
    late = run(det, [syscall(gdb, "ptrace", ts=sec(0), request=16, pid=920), *writes,
                     execve(child, ts=sec(101))])
    assert [d.rule_id for d in alerts(late)] == ["ptrace.injected_exec"]


def test_debugging_without_register_writes_or_a_launched_child_is_not_injection() -> None:
    shell = _root_shell()
    target = proc("/usr/sbin/nginx", pid=930, parent=init())
    strace = proc("/usr/bin/strace", "-f", "-p", "930", pid=931, parent=shell)
    worker = proc("/usr/bin/dash", "-c", "logrotate", pid=932, parent=target, name="sh")
    gdb = proc("/usr/bin/gdb", "./a.out", pid=933, parent=shell)
    debuggee = proc("/home/u/a.out", pid=934, parent=gdb)
    debuggee_child = proc("/usr/bin/dash", "-c", "ls", pid=935, parent=debuggee, name="sh")
    dets = run(PtraceDetector(), [
        syscall(strace, "ptrace", request=0x4206, pid=930), execve(worker, ts=sec(1)),
        syscall(gdb, "ptrace", request=4, pid=934), execve(debuggee_child, ts=sec(2)),
        syscall(strace, "ptrace", ts=sec(3), request=0x4206, pid=930),
        syscall(strace, "ptrace", ts=sec(3), request=13, pid=930),
        execve(worker, ts=sec(70))])  # a minute later: the write is forgotten
    assert alerts(dets) == []


# -- process_memory --------------------------------------------------------------------------

def _mem(p, pid: int, flags: int = O_RDONLY, res: int = 3, **target):
    e = open_file(p, f"/proc/{pid}/mem", flags=flags, res=res)
    e.args.update(target)
    return e


def test_sshd_memory_read_through_proc_mem_is_credential_dumping() -> None:
    py = proc("/usr/bin/python3.11", "-", "812", pid=940, parent=_root_shell(), name="python3")
    gdb = proc("/usr/bin/gdb", "-p", "812", pid=941, parent=_root_shell())
    dets = run(ProcessMemoryDetector(), [
        _mem(py, 812, target_pid=812, target_name="sshd", target_exepath="/usr/sbin/sshd"),
        _mem(gdb, 812, flags=O_RDWR, target_pid=812, target_name="sshd"),
        _mem(py, 813, res=-13, target_pid=813, target_name="sshd-session"),  # EACCES
        syscall(py, "process_vm_readv", pid=814, target_pid=814, target_name="login")])
    assert [(d.rule_id, d.priority, d.suppressed) for d in dets] == [
        ("process_memory.credential_dump", Priority.CRITICAL, None)] * 4
    assert dets[0].data["title"] == "Credential dumping: memory of sshd read by another process"


def test_other_process_memory_reads_and_writes() -> None:
    py = proc("/usr/bin/python3.11", "inject.py", pid=950, parent=_root_shell(),
              name="python3")
    pyspy = proc("/usr/local/bin/py-spy", "dump", "--pid", "951", pid=952,
                 parent=_root_shell())
    dets = run(ProcessMemoryDetector(), [
        _mem(py, 951, flags=O_WRONLY, target_pid=951, target_name="nginx"),
        _mem(py, 951, target_pid=951, target_name="nginx"),
        syscall(pyspy, "process_vm_readv", pid=951, target_pid=951, target_name="python3"),
        _mem(py, 950), open_file(py, "/proc/self/mem"),         # itself
        open_file(py, "/proc/951/maps"), _mem(py, 951, res=-13)])  # not memory; refused
    assert [(d.rule_id, d.priority, d.suppressed is None) for d in dets] == [
        ("process_memory.inject", Priority.CRITICAL, True),
        ("process_memory.read", Priority.WARNING, True),
        ("process_memory.read", Priority.WARNING, False)]


# -- sensitive_write: a key generator making a new key ------------------------------------

def test_openssl_creating_a_new_key_is_not_tampering_but_overwriting_one_is() -> None:
    openssl = proc("/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout",
                   "/etc/ssl/private/svc.key", pid=960, parent=_root_shell())
    new_key = open_file(openssl, "/etc/ssl/private/svc.key", O_WRONLY | O_CREAT | O_TRUNC)
    new_key.args["created"] = True
    old_key = open_file(openssl, "/etc/ssl/private/ssl-cert-snakeoil.key",
                        O_WRONLY | O_CREAT | O_TRUNC)
    old_key.args["created"] = False
    cp = proc("/usr/bin/cp", "/tmp/k", "/etc/ssl/private/new.key", pid=961,
              parent=_root_shell())
    by_cp = open_file(cp, "/etc/ssl/private/new.key", O_WRONLY | O_CREAT | O_TRUNC)
    by_cp.args["created"] = True
    dets = run(SensitiveWriteDetector(), [new_key, old_key, by_cp])
    assert [(d.entity.path, d.suppressed.entry if d.suppressed else None) for d in dets] == [
        ("/etc/ssl/private/svc.key", "sensitive_write.key_generators=openssl"),
        ("/etc/ssl/private/ssl-cert-snakeoil.key", None),
        ("/etc/ssl/private/new.key", None)]
