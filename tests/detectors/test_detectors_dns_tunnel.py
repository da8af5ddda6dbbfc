"""dns_tunnel: data in DNS query names, floods under one domain, DGA-like names
(issue 12: a dnscat2-style TXT poll to a resolver on 127.0.0.1 was missed)."""

from __future__ import annotations

import base64

import pytest
from detector_factories import alerts, init, login_shell, proc, sec

from vigil.detectors.dns_tunnel import DnsTunnelDetector, DnsTunnelParams, looks_encoded
from vigil.events.model import DnsQuery, Event, FdInfo
from vigil.pipeline import DNS_EVENTS, DetectionPipeline


def run(detector: DnsTunnelDetector, events: list[Event]) -> list:
    """Every event carries a DNS question: the pipeline hands each to the detector."""
    return [d for e in events for d in detector.on_event(e)]


def query(p, qname: str, ts: int, qtype: int = 1, server: str = "127.0.0.1",
          etype: str = "sendto") -> Event:
    return Event(type=etype, ts=ts, res=40, proc=p,
                 fd=FdInfo(num=3, type="ipv4", l4proto="udp", rip=server, rport=53),
                 dns=DnsQuery(qname=qname, qtype=qtype, server=server, port=53))


def test_hex_txt_polls_under_one_domain() -> None:
    client = proc("/usr/bin/python3.11", "-", pid=700, parent=login_shell())
    data = open(__file__, "rb").read()[:600].hex()
    events = [query(client, f"{data[i:i + 60]}.{i // 60:x}.c2.example.com", sec(i / 600),
                    qtype=16) for i in range(0, 600, 60)]
    dets = run(DnsTunnelDetector(), events)
    assert [d.rule_id for d in alerts(dets)] == ["dns_tunnel.encoded_labels"]
    d = dets[0]
    assert d.data["domain"] == "example.com" and d.data["qtypes"] == {"TXT": 5}
    assert d.data["title"] == "DNS tunnel: encoded data in query names"
    assert "127.0.0.1:53" in d.output


def test_base32_chunks_over_write_on_a_connected_socket() -> None:
    """The sensor reports `write` on a socket connected to port 53 as a DNS event too."""
    data = base64.b32encode(bytes(range(256)) * 2).decode().rstrip("=").lower()
    client = proc("/opt/x/upd", pid=710, parent=init())
    events = [query(client, f"{seq:04x}.{data[seq * 50:seq * 50 + 50]}.t.example.net",
                    sec(seq * 0.05), etype="write") for seq in range(8)]
    dets = run(DnsTunnelDetector(), events)
    assert [d.rule_id for d in alerts(dets)] == ["dns_tunnel.encoded_labels"]


def test_short_chunks_at_a_high_rate_are_a_flood() -> None:
    client = proc("/opt/x/upd", pid=720, parent=init())
    params = DnsTunnelParams(max_names_per_domain=40)
    events = [query(client, f"q{n:03d}x{n * 7919 % 100000:05d}zz.t.example.org", sec(n * 0.1))
              for n in range(45)]
    dets = run(DnsTunnelDetector(params), events)
    assert [d.rule_id for d in alerts(dets)] == ["dns_tunnel.query_rate"]


def test_dga_like_domains() -> None:
    bot = proc("/tmp/.b/bot", pid=730, parent=init())
    names = ["xjw3kq9vbn2lp", "qzmxvbtrplkd", "kjhgfdswqrtz", "a8f3k2m9x1q7", "zxcvbnmqwrty",
             "plmkjnbhgvfr", "w9x8c7v6b5n4", "tghbnjmkzxqw"]
    dets = run(DnsTunnelDetector(), [query(bot, f"{n}.com", sec(i)) for i, n in
                                     enumerate(names)])
    assert [d.rule_id for d in alerts(dets)] == ["dns_tunnel.dga"]


def test_ordinary_lookups_stay_quiet() -> None:
    app = proc("/usr/bin/python3.11", "app.py", pid=740, parent=init())
    browserish = proc("/usr/bin/curl", pid=741, parent=login_shell())
    names = ["www", "api", "cdn", "mail", "static", "auth", "login", "shop", "docs", "status"]
    events = [query(app, f"{n}.vigil-emul.example", sec(i * 0.15), server="10.53.0.1")
              for i, n in enumerate(names * 3)]
    # cloud names: long, hyphenated, some digits; many under one provider domain
    events += [query(browserish, f"my-load-balancer-{1234567890 + i}.eu-west-1.elb.amazonaws.com",
                     sec(10 + i)) for i in range(10)]
    events += [query(browserish, f"{w}.com", sec(30 + i)) for i, w in enumerate(
        ["wikipedia", "googleapis", "cloudfront", "amazonaws", "akamaiedge", "facebook",
         "microsoftonline", "githubusercontent", "stackoverflow", "cloudflare"])]
    assert run(DnsTunnelDetector(), events) == []


def test_reverse_and_block_list_lookups_are_audited_not_alerted() -> None:
    mta = proc("/usr/sbin/rspamd", pid=750, parent=init())
    import hashlib
    events = [query(mta, f"{hashlib.sha256(b'%d' % n).hexdigest()[:52]}.dbl.spamhaus.org",
                    sec(n)) for n in range(6)]
    dets = run(DnsTunnelDetector(), events)
    assert len(dets) == 1 and alerts(dets) == []
    assert dets[0].suppressed.entry == "dns_tunnel.lookup_services=.spamhaus.org"


@pytest.mark.parametrize("label,encoded", [
    ("4a6f686e20736d697468206973206120676f6f64", True),
    ("ojxw65b2pa5daorqhjzg633uhixxe33poq5c6ytj", True),
    ("production-frontend-eu-west", False),
    ("www", False),
])
def test_label_shape(label: str, encoded: bool) -> None:
    assert looks_encoded(label, 24, 3.9) is encoded


def test_the_pipeline_routes_dns_events_of_any_syscall_to_the_detector() -> None:
    """A `write` carrying a DNS question reaches a detector that declares `dns`, without
    the detector asking the sensor for every write."""
    det = DnsTunnelDetector(DnsTunnelParams(min_encoded=1))
    assert "write" not in det.event_types and DNS_EVENTS in det.event_types
    pipe = DetectionPipeline(engines=[], detectors=[det])
    client = proc("/opt/x/upd", pid=760, parent=init())
    got = pipe.process(query(client, "4a6f686e20736d697468206973206120676f6f64.x.example.com",
                             sec(0), etype="write"))
    assert [d.rule_id for d in got] == ["dns_tunnel.encoded_labels"]
    plain = Event(type="write", ts=sec(1), res=3, proc=client)
    assert pipe.process(plain) == []
