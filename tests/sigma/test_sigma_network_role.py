"""Sigma's network_connection is the outbound side only: a server's bind, listen and
accept, and sockets the sensor knows as a server's, are never an "initiated" connection.
The issue: sshd listening on :: port 2222 raised "Potentially Suspicious Malware Callback"."""

from __future__ import annotations

import pytest
from needs import needs_shared, shared_path

from sigma_event_spec import build_event, build_process
from vigil.events.fields import DEFAULT_FIELDS
from vigil.events.model import Event, FdInfo
from vigil.rules.sigma import SigmaEngine, load_sigma_paths

NET_RULES = shared_path("rules", "sigma", "linux", "network_connection")
#: marks a test that reads SigmaHQ's rules
SHARED = needs_shared("rules", "sigma", "linux", "network_connection")
CALLBACK = "dbfc7c98-04ab-4ab7-aa94-c74d22aa7376"   # Potentially Suspicious Malware Callback
BASH_NET = "83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871"   # Linux Reverse Shell Indicator
SSHD = {"exec": "sshd -D -p 2222", "exepath": "/usr/sbin/sshd"}


@pytest.fixture(scope="module")
def engine() -> SigmaEngine:
    return SigmaEngine(load_sigma_paths([NET_RULES]).rules)


def _sock(etype: str, spec: dict, res: int = 0, **fd) -> Event:
    return Event(type=etype, res=res, proc=build_process(spec),
                 fd=FdInfo(num=3, l4proto=fd.pop("l4proto", "tcp"), **fd))


def _ids(engine: SigmaEngine, ev: Event) -> set[str]:
    return {d.rule_id for d in engine.on_event(ev)}


@SHARED
def test_sshd_serving_on_port_2222_is_no_callback(engine):
    events = [
        _sock("bind", SSHD, type="ipv6", lip="::", lport=2222, role="server"),
        _sock("listen", SSHD, type="ipv6", lip="::", lport=2222, role="server"),
        _sock("accept4", SSHD, res=5, type="ipv6", lip="2001:db8::2", lport=2222,
              rip="2001:db8:ff::9", rport=50112, role="server", connected=True),
        # sshd's getaddrinfo sorts its own ListenAddress: a UDP connect to [::]:2222 that
        # sends nothing (the sensor marks the socket a client)
        _sock("connect", SSHD, type="ipv6", l4proto="udp", lip="::1", lport=41000,
              rip="::", rport=2222, role="client", connected=True),
        _sock("connect", SSHD, type="ipv4", l4proto="udp", lip="127.0.0.1", lport=41001,
              rip="0.0.0.0", rport=2222, role="client", connected=True),
    ]
    for ev in events:
        assert not _ids(engine, ev), ev.type


@SHARED
def test_a_socket_known_as_a_servers_does_not_connect_out(engine):
    # a bound datagram socket serving on 4444 that connect()s to its peer (here a bash
    # that the bash-with-a-network-connection rule would otherwise report)
    ev = _sock("connect", {"exec": "bash", "exepath": "/bin/bash"}, type="ipv4",
               l4proto="udp", lip="10.0.0.2", lport=4444, rip="203.0.113.5", rport=51000,
               role="server", connected=True)
    assert not _ids(engine, ev)
    ev.fd.role = "client"
    assert BASH_NET in _ids(engine, ev)


@SHARED
def test_an_accepting_bash_is_no_outbound_connection(engine):
    ev = build_event({"accept": "10.0.0.2:8080", "client": "203.0.113.9:40000",
                      "exec": "bash -i", "exepath": "/bin/bash"})
    assert BASH_NET not in _ids(engine, ev)


@SHARED
def test_outbound_connections_still_fire(engine):
    assert CALLBACK in _ids(engine, build_event({"connect": "203.0.113.5:2222",
                                                 "exec": "./implant",
                                                 "exepath": "/tmp/implant"}))
    # a non-blocking connect (EINPROGRESS) whose role the sensor did not record
    ev = build_event({"connect": "[2001:db8:66::1]:4444", "res": -115, "exec": "./implant",
                      "exepath": "/tmp/implant"})
    ev.fd.role = None
    assert CALLBACK in _ids(engine, ev)
    assert BASH_NET in _ids(engine, build_event({"connect": "203.0.113.5:443",
                                                 "exec": "bash -i", "exepath": "/bin/bash"}))


def test_initiated_follows_the_sockets_role():
    initiated = DEFAULT_FIELDS.extractor("fd.initiated")
    spec = {"exec": "x"}
    assert initiated(_sock("connect", spec, type="ipv4", role="client")) is True
    assert initiated(_sock("connect", spec, type="ipv4", role="server")) is False
    assert initiated(_sock("connect", spec, type="ipv4")) is True
    for t in ("accept", "accept4", "bind", "listen"):
        assert initiated(_sock(t, spec, type="ipv4")) is False


def test_destination_hostname_is_reported_not_silently_dead(tmp_path):
    from test_sigma_modifiers import NET, write_rule
    from vigil.rules.sigma import SigmaFieldMapping, validate_sigma

    only_name = write_rule(tmp_path, {"sel": {"DestinationHostname|endswith": ".ngrok.io"},
                                      "condition": "sel"}, NET)
    either = write_rule(tmp_path, {"a": {"DestinationHostname": "pool.example"},
                                   "b": {"DestinationPort": 3333}, "condition": "a or b"},
                        NET)
    unless = write_rule(tmp_path, {"a": {"DestinationPort": 3333},
                                   "b": {"DestinationHostname": "pool.example"},
                                   "condition": "a and not b"}, NET)
    report = validate_sigma(load_sigma_paths([tmp_path]))
    status = {e.rule_id: e for e in report.entries}
    assert status[only_name].status == "unsupported"
    assert "no Vigil sensor reports the host name" in status[only_name].reason
    # a rule that can still match loads, with the field's branch noted as never true
    for rid in (either, unless):
        assert status[rid].status == "compiled"
        assert any("DestinationHostname" in n for n in status[rid].notes)
    engine = SigmaEngine(load_sigma_paths([tmp_path]).rules)
    hits = {d.rule_id for d in engine.on_event(build_event({"connect": "203.0.113.5:3333",
                                                            "exec": "./x"}))}
    assert hits == {either, unless}
    # a configured mapping for the field wins over "unavailable"
    mapping = SigmaFieldMapping.default().with_overrides(
        {"network_connection": {"DestinationHostname": "fd.sip.name"}})
    assert not load_sigma_paths([tmp_path], mapping=mapping).unsupported
