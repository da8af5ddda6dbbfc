"""privilege_escalation, ptrace, suid_binary, fileless_exec, kernel_module."""

from __future__ import annotations

from detector_factories import alerts, execve, init, login_shell, proc, run, syscall

from vigil.detectors.fileless_exec import FilelessExecDetector
from vigil.detectors.kernel_module import KernelModuleDetector
from vigil.detectors.privilege_escalation import PrivilegeEscalationDetector
from vigil.detectors.process_identity import AgentIdentity
from vigil.detectors.ptrace import PtraceDetector
from vigil.detectors.suid_binary import SuidBinaryDetector
from vigil.events.model import FdInfo
from vigil.priority import Priority


# -- privilege_escalation ---------------------------------------------------------------

def test_exploit_becoming_root_fires() -> None:
    shell = login_shell()
    exploit = proc("/tmp/pwnkit", pid=600, uid=1000, parent=shell)
    rootshell = proc("/usr/bin/bash", pid=600, uid=0, parent=shell)
    dets = run(PrivilegeEscalationDetector(), [syscall(exploit, "setuid", uid=0),
                                               execve(rootshell)])
    assert [d.rule_id for d in alerts(dets)] == ["privilege_escalation.setuid_root",
                                                  "privilege_escalation.root_exec"]
    assert dets[0].priority == Priority.CRITICAL and "T1068" in dets[0].tags


def test_sudo_su_and_root_daemons_are_not_escalations() -> None:
    shell = login_shell()
    sudo = proc("/usr/bin/sudo", "ls", pid=610, uid=1000, parent=shell)
    ls = proc("/usr/bin/ls", pid=611, uid=0, parent=sudo)
    cron_job = proc("/usr/bin/dash", pid=612, uid=0, parent=proc("/usr/sbin/cron", pid=5))
    setuid_drop = proc("/usr/sbin/nginx", pid=613, uid=0, parent=init())
    dets = run(PrivilegeEscalationDetector(), [
        syscall(sudo, "setresuid", ruid=0, euid=0, suid=0), execve(ls), execve(cron_job),
        syscall(setuid_drop, "setuid", uid=33)])
    assert alerts(dets) == [] and len(dets) == 2
    assert {d.suppressed.entry for d in dets} == {"privilege_escalation.elevation_tools=sudo"}


def test_set_uid_program_run_by_root_swapping_back_to_root_is_not_an_escalation() -> None:
    # `at` is set-uid daemon: run by root it starts with real uid 0 and effective uid 1 and
    # swaps them (setreuid(1, 0), setreuid(0, 1), setresuid(-1, 0, -1)) around its work:
    # the record carries the uids the call left and the sensor's uids before it
    root = login_shell(uid=0, user="root")

    def at(uid: int) -> object:
        return proc("/usr/bin/at", "now", "+", "1", "hour", pid=640, uid=uid,
                    user="root" if uid == 0 else "daemon", parent=root)

    # a set-uid-root copy of python run by a user making its real uid root, for contrast
    user = login_shell()
    suid_py = proc("/tmp/.py", "-c", "import os; os.setresuid(0, 0, 0)", pid=641, uid=0,
                   parent=user)
    dets = run(PrivilegeEscalationDetector(), [
        syscall(at(1), "setreuid", ruid=1, euid=0, uid_before=0, euid_before=1),
        syscall(at(0), "setreuid", ruid=0, euid=1, uid_before=1, euid_before=0),
        syscall(at(0), "setresuid", ruid=-1, euid=0, suid=-1, uid_before=0, euid_before=1),
        syscall(suid_py, "setresuid", ruid=0, euid=0, suid=0, uid_before=1000,
                euid_before=0)])
    assert [d.entity.pid for d in alerts(dets)] == [641]


def test_fake_sudo_in_tmp_is_not_sudo() -> None:
    fake = proc("/tmp/sudo", pid=620, uid=1000, parent=login_shell())
    assert len(alerts(run(PrivilegeEscalationDetector(), [syscall(fake, "setuid", uid=0)]))) == 1


def test_failed_setuid_is_ignored() -> None:
    p = proc("/tmp/x", pid=630, uid=1000, parent=login_shell())
    assert run(PrivilegeEscalationDetector(), [syscall(p, "setuid", res=-1, uid=0)]) == []


# -- ptrace -------------------------------------------------------------------------------

def test_ptrace_attach_and_inject() -> None:
    injector = proc("/tmp/inject", pid=700, parent=login_shell())
    dets = run(PtraceDetector(), [syscall(injector, "ptrace", request=16, pid=812),
                                  syscall(injector, "ptrace", request=5, pid=812),
                                  syscall(injector, "ptrace", request=0, pid=0)])  # TRACEME
    assert [(d.rule_id, d.priority) for d in alerts(dets)] == [
        ("ptrace.attach", Priority.ERROR), ("ptrace.inject", Priority.CRITICAL)]
    assert "PTRACE_ATTACH" in dets[0].output


def test_debugger_is_suppressed_unless_aimed_at_the_agent() -> None:
    gdb = proc("/usr/bin/gdb", "-p", "812", pid=710, parent=login_shell())
    det = PtraceDetector(own=AgentIdentity(pid=4242))
    dets = run(det, [syscall(gdb, "ptrace", request=0x4206, pid=812),
                     syscall(gdb, "ptrace", request=16, pid=4242, res=-1)])
    assert dets[0].suppressed.entry == "ptrace.debuggers=gdb"
    assert dets[1].suppressed is None and dets[1].priority == Priority.CRITICAL


# -- suid_binary --------------------------------------------------------------------------

def test_suid_shell_copy_fires_critical_in_tmp() -> None:
    chmod = proc("/usr/bin/chmod", "u+s", "/tmp/.sh", pid=720, parent=login_shell())
    dets = run(SuidBinaryDetector(), [syscall(chmod, "fchmodat", filename="/tmp/.sh",
                                              mode=0o4755),
                                      syscall(chmod, "fchmodat", filename="/usr/local/bin/t",
                                              mode=0o4755),
                                      syscall(chmod, "fchmodat", filename="/tmp/x", mode=0o755)])
    assert [(d.rule_id, d.priority) for d in alerts(dets)] == [
        ("suid_binary.suid", Priority.CRITICAL), ("suid_binary.suid", Priority.ERROR)]
    assert dets[0].data["mode"] == "04755"


def test_package_manager_and_sgid_directory_are_suppressed() -> None:
    dpkg = proc("/usr/bin/dpkg", "-i", "sudo.deb", pid=730, parent=login_shell())
    chmod = proc("/usr/bin/chmod", "g+s", "/srv/shared", pid=731, parent=login_shell())
    dets = run(SuidBinaryDetector(), [
        syscall(dpkg, "fchmodat", filename="/usr/bin/sudo.dpkg-new", mode=0o4755),
        syscall(chmod, "fchmod", mode=0o2775, fd=FdInfo(num=3, type="directory",
                                                         name="/srv/shared"))])
    assert [d.suppressed.entry for d in dets] == ["suid_binary.package_managers=dpkg",
                                                  "suid_binary.sgid_directories=directory"]


# -- fileless_exec ------------------------------------------------------------------------

def test_memfd_exec_fires_with_memfd_name() -> None:
    dropper = proc("/usr/bin/python3", "-c", "...", pid=740, parent=login_shell())
    payload = proc("/memfd:kworker (deleted)", pid=740, parent=login_shell(),
                   exe_from_memfd=True, name="kworker")
    dets = run(FilelessExecDetector(), [syscall(dropper, "memfd_create", res=3, name="kworker"),
                                        execve(payload)])
    assert [d.rule_id for d in alerts(dets)] == ["fileless_exec.memfd_exec"]
    assert dets[0].data["memfd"] == "kworker" and len(dets[0].evidence) == 2


def test_memfd_create_alone_and_runc_self_clone() -> None:
    firefox = proc("/usr/lib/firefox/firefox", pid=750, uid=1000, parent=login_shell())
    runc = proc("/memfd:runc_cloned:/proc/self/exe (deleted)", "init", pid=751,
                parent=proc("/usr/bin/containerd-shim-runc-v2", pid=50), exe_from_memfd=True)
    dets = run(FilelessExecDetector(), [syscall(firefox, "memfd_create", res=5, name="shm"),
                                        execve(runc)])
    assert len(dets) == 1 and dets[0].suppressed.entry == \
        "fileless_exec.self_cloning_runtimes=runc_cloned"


# -- kernel_module ------------------------------------------------------------------------

def test_insmod_from_tmp_and_manual_modprobe() -> None:
    shell = login_shell(uid=0, user="root")
    insmod = proc("/usr/bin/kmod", "/tmp/rk.ko", pid=760, parent=shell, name="insmod")
    modprobe = proc("/usr/bin/kmod", "br_netfilter", pid=761, parent=shell, name="modprobe")
    loader = proc("/tmp/loader", pid=762, parent=shell)
    dets = run(KernelModuleDetector(), [
        syscall(insmod, "finit_module", fd=FdInfo(num=3, type="file", name="/tmp/rk.ko")),
        syscall(modprobe, "finit_module", fd=FdInfo(
            num=3, type="file", name="/lib/modules/6.1.0/kernel/net/bridge/br_netfilter.ko")),
        syscall(loader, "init_module")])
    assert [(d.rule_id, d.priority) for d in alerts(dets)] == [
        ("kernel_module.load", Priority.CRITICAL), ("kernel_module.load", Priority.ERROR),
        ("kernel_module.memory_load", Priority.CRITICAL)]


def test_kernel_on_demand_udev_and_dkms_are_suppressed() -> None:
    kthreadd = proc("kthreadd", pid=2, name="kthreadd")
    kmodprobe = proc("/usr/bin/kmod", "-q", "--", "nf_conntrack", pid=770, parent=kthreadd,
                     name="modprobe")
    udevd = proc("/usr/lib/systemd/systemd-udevd", pid=771, parent=init())
    dkms = proc("/usr/bin/bash", "/usr/sbin/dkms", "autoinstall", pid=772, parent=init(),
                name="dkms")
    dkms_modprobe = proc("/usr/bin/kmod", "wireguard", pid=773, parent=dkms, name="modprobe")
    ko = FdInfo(num=3, type="file", name="/lib/modules/6.1.0/x.ko")
    dets = run(KernelModuleDetector(), [syscall(p, "finit_module", fd=ko)
                                        for p in (kmodprobe, udevd, dkms_modprobe)])
    assert [d.suppressed.entry for d in dets] == [
        "kernel_module.kernel_request=modprobe", "kernel_module.system_loaders=systemd-udevd",
        "kernel_module.module_installers=dkms"]


def test_uid_change_that_leaves_real_and_effective_uids_is_not_an_escalation() -> None:
    # a set-uid-root program run by a user already has effective uid 0: setresuid(-1, 0, -1)
    # (GNU make's call) changes nothing; making the real uid 0 is still an escalation. -1 comes as the sensor reports it
    # (unsigned) or as a test writes it.
    user = login_shell()
    suid = proc("/tmp/.rootbin", pid=650, uid=1000, parent=user)
    unset = 0xFFFFFFFF
    dets = run(PrivilegeEscalationDetector(), [
        syscall(suid, "setresuid", ruid=unset, euid=0, suid=unset, uid_before=1000,
                euid_before=0),
        syscall(suid, "setreuid", ruid=-1, euid=0, uid_before=1000, euid_before=0),
        syscall(suid, "setresuid", ruid=unset, euid=unset, suid=0, uid_before=1000,
                euid_before=1000),
        syscall(suid, "setuid", uid=0, uid_before=0, euid_before=0),
        syscall(suid, "setresuid", ruid=0, euid=0, suid=0, uid_before=1000,
                euid_before=0)])
    assert [(d.rule_id, d.evidence[0].args["ruid"]) for d in alerts(dets)] == [
        ("privilege_escalation.setuid_root", 0)]
