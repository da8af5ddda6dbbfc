"""dns_direct (FP3) and crypto_mining."""

from __future__ import annotations

from pathlib import Path

import pytest
from detector_factories import alerts, connect, execve, init, login_shell, proc, run, sec

from vigil.config_errors import ConfigError
from vigil.detectors.crypto_mining import CryptoMiningDetector, CryptoMiningParams
from vigil.detectors.dns_direct import DnsDirectDetector, DnsDirectParams, read_nameservers
from vigil.priority import Priority

STUB = DnsDirectParams(system_resolvers=("127.0.0.53",))


def test_fp3_crowdsec_and_resolvers_querying_dns_are_infrastructure() -> None:
    cscli = proc("/usr/bin/cscli", "decisions", "list", pid=600, parent=login_shell())
    crowdsec = proc("/usr/local/bin/crowdsec", pid=601, parent=init())
    resolved = proc("/usr/lib/systemd/systemd-resolved", pid=602, uid=991, parent=init())
    unbound = proc("/usr/sbin/unbound", "-d", pid=603, parent=init())
    dets = run(DnsDirectDetector(STUB), [
        connect(p, "1.1.1.1", 53, proto="udp") for p in (cscli, crowdsec, resolved, unbound)])
    assert len(dets) == 4 and alerts(dets) == []
    assert [d.suppressed.entry for d in dets] == [
        "dns_direct.resolvers=cscli", "dns_direct.resolvers=crowdsec",
        "dns_direct.resolvers=systemd-resolved", "dns_direct.resolvers=unbound"]


def test_fp3_unknown_binary_querying_dns_directly_is_reported() -> None:
    implant = proc("/var/tmp/.cache/upd", pid=610, parent=init())
    dets = run(DnsDirectDetector(STUB), [connect(implant, "8.8.8.8", 53, proto="udp",
                                                 etype="sendto")])
    assert [d.rule_id for d in alerts(dets)] == ["dns_direct.query"]
    assert dets[0].entity.ip == "8.8.8.8" and "T1071.004" in dets[0].tags


def test_fake_cscli_in_tmp_is_reported() -> None:
    fake = proc("/tmp/cscli", pid=611, parent=init())
    assert len(alerts(run(DnsDirectDetector(STUB), [connect(fake, "8.8.8.8", 53)]))) == 1


def test_stub_and_configured_resolvers_are_the_normal_path() -> None:
    curl = proc("/usr/bin/curl", pid=620, parent=login_shell())
    det = DnsDirectDetector(DnsDirectParams(system_resolvers=("10.0.0.2",)))
    assert run(det, [connect(curl, "127.0.0.53", 53, proto="udp"),
                     connect(curl, "10.0.0.2", 53, proto="udp"),
                     connect(curl, "::1", 53, proto="udp"),
                     connect(curl, "93.184.216.34", 443)]) == []


def test_repeated_queries_are_one_detection_per_window() -> None:
    implant = proc("/opt/x/agent", pid=630, parent=init())
    det = DnsDirectDetector(DnsDirectParams(system_resolvers=(), dedupe_seconds=60))
    dets = run(det, [connect(implant, "8.8.8.8", 53, ts=sec(i)) for i in range(10)]
               + [connect(implant, "8.8.8.8", 53, ts=sec(100))])
    assert len(dets) == 2


def test_resolvers_read_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch example.com\nnameserver 10.0.0.2\n"
                    "nameserver fe80::1%eth0  # link-local\noptions edns0\n")
    assert read_nameservers(str(conf)) == ("10.0.0.2", "fe80::1")
    det = DnsDirectDetector(DnsDirectParams.from_dict({"resolv_conf": str(conf)}))
    curl = proc("/usr/bin/curl", pid=640, parent=login_shell())
    assert run(det, [connect(curl, "10.0.0.2", 53, proto="udp")]) == []
    assert read_nameservers(str(tmp_path / "missing")) == ()


def test_dns_params_validation() -> None:
    with pytest.raises(ConfigError) as err:
        DnsDirectParams.from_dict({"ports": [53, "853"]})
    assert err.value.key == "detectors.dns_direct.ports[1]"
    with pytest.raises(ConfigError):
        DnsDirectParams.from_dict({"ports": [0]})
    assert DnsDirectParams.from_dict({"system_resolvers": []}).system_resolvers == ()


def test_miner_binary_and_stratum_url() -> None:
    xmrig = proc("/tmp/.x/xmrig", "-o", "pool.example:3333", pid=700, parent=init())
    disguised = proc("/usr/local/bin/kworker", "-o", "stratum+tcp://pool.example:3333",
                     pid=701, parent=init())
    dets = run(CryptoMiningDetector(), [execve(xmrig), execve(disguised)])
    assert [d.rule_id for d in alerts(dets)] == ["crypto_mining.miner_exec"] * 2
    assert dets[0].priority == Priority.CRITICAL and "T1496" in dets[0].tags


def test_pool_port_connection_once_per_destination() -> None:
    p = proc("/usr/local/bin/kworker", pid=710, parent=init())
    dets = run(CryptoMiningDetector(), [connect(p, "198.51.100.30", 3333, ts=sec(i))
                                        for i in range(3)])
    assert [d.rule_id for d in dets] == ["crypto_mining.pool_port"]
    assert dets[0].priority == Priority.WARNING


def test_pool_port_look_alikes() -> None:
    p = proc("/usr/bin/curl", pid=720, parent=login_shell())
    adb = proc("/usr/lib/android-sdk/platform-tools/adb", "connect", "10.0.0.9:5555", pid=721,
               parent=login_shell())
    dets = run(CryptoMiningDetector(), [connect(p, "127.0.0.1", 3333),     # local dev server
                                        connect(p, "198.51.100.30", 4444),  # reverse_shell's
                                        connect(p, "198.51.100.30", 443),
                                        connect(adb, "10.0.0.9", 5555)])
    assert len(dets) == 1 and dets[0].suppressed.entry == "crypto_mining.port_users=adb"


def test_pool_ports_param() -> None:
    det = CryptoMiningDetector(CryptoMiningParams.from_dict({"pool_ports": [9999]}))
    p = proc("/opt/x", pid=730, parent=init())
    assert len(run(det, [connect(p, "198.51.100.30", 9999), connect(p, "198.51.100.30", 3333)])) == 1


def test_resolver_of_a_network_namespace_is_a_configured_resolver(tmp_path: Path) -> None:
    """Issue 12: lookups inside `ip netns exec NS` go to the resolver of
    /etc/netns/NS/resolv.conf (bind-mounted over /etc/resolv.conf there); they were
    reported as an unusual resolver. The namespace is created after the agent started."""
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\n")
    netns = tmp_path / "netns"
    det = DnsDirectDetector(DnsDirectParams(resolv_conf=str(host), netns_dir=str(netns)))
    app = proc("/usr/bin/python3.11", "app.py", pid=620, parent=init())
    (netns / "blue").mkdir(parents=True)
    (netns / "blue" / "resolv.conf").write_text("nameserver 10.53.0.1\n")
    assert run(det, [connect(app, "10.53.0.1", 53, proto="udp", etype="sendto",
                             ts=sec(5))]) == []
    # another server is still unusual
    dets = run(det, [connect(app, "198.18.7.2", 53, proto="udp", etype="sendto", ts=sec(6))])
    assert [d.rule_id for d in dets] == ["dns_direct.query"]


def test_resolv_conf_rewritten_after_start_is_read_again(tmp_path: Path) -> None:
    """A DHCP or VPN client rewrites resolv.conf: its new resolver is the system's."""
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 10.0.0.2\n")
    det = DnsDirectDetector(DnsDirectParams(resolv_conf=str(host),
                                            netns_dir=str(tmp_path / "none")))
    host.write_text("nameserver 192.168.1.1\n")
    import os
    os.utime(host, (1, 1))
    app = proc("/usr/bin/curl", pid=630, parent=init())
    assert run(det, [connect(app, "192.168.1.1", 53, proto="udp", etype="sendto",
                             ts=sec(1))]) == []
