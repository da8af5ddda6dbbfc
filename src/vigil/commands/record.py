"""`vigil record -o FILE.jsonl [--duration S] [--raw]`: live kernel events into a replayable
file, through the same kernel filters as `vigil run` (`[sensors]` of the configuration)
unless `--raw`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Optional

import typer

from vigil.events.jsonl import EventWriter
from vigil.sensors.base import SensorUnavailable
from vigil.sensors.ebpf.sensor import EbpfSensor, supported_types
from vigil.sensors.ebpf.syscalls import DNS_SYSCALLS
from vigil.sensors.recorder import Recorder


def _types(spec: str | None) -> set[str] | None:
    if not spec:
        return None
    wanted = {t.strip() for t in spec.split(",") if t.strip()}
    unknown = wanted - supported_types()
    if unknown:
        raise typer.BadParameter(f"unknown event type(s): {', '.join(sorted(unknown))}; "
                                 f"known: {', '.join(sorted(supported_types()))}",
                                 param_hint="--types")
    return wanted


def record(
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file to append events to"),
    duration: Optional[float] = typer.Option(None, "--duration", "-d", min=0,
                                             help="stop after this many seconds (default: Ctrl-C)"),
    types: Optional[str] = typer.Option(None, "--types",
                                        help="comma-separated event types (default: all)"),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="vigil.toml whose [sensors] filters apply (default: "
                                     "/etc/vigil/vigil.toml if it exists, else built-in "
                                     "defaults)"),
    raw: bool = typer.Option(False, "--raw", help="no kernel filters: every read-only open "
                                                  "and failed path search too, and no "
                                                  "flood control"),
) -> None:
    """Record live kernel events in the replay format (`vigil replay` reads them back)."""
    from vigil.config import DEFAULT_CONFIG_PATH, load_config
    from vigil.config_errors import ConfigError
    from vigil.runtime import sensor_filters

    if config is None and DEFAULT_CONFIG_PATH.exists():
        config = DEFAULT_CONFIG_PATH
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"vigil record: {exc}", err=True)
        raise typer.Exit(2) from None
    filters = sensor_filters(cfg.sensors)
    wanted = _types(types)
    if wanted is not None and not wanted & DNS_SYSCALLS:
        # DNS questions come with their syscall's type: none of those was asked for
        filters["dns_ports"] = ()
    if raw:
        filters.update(ignore_read_prefixes=(), ignore_missing_reads=False,
                       ignore_missing_execs=False, flood_limit=0)
    sensor = EbpfSensor(event_types=wanted, **filters)
    try:
        sensor.start()
    except SensorUnavailable as exc:
        typer.echo(f"vigil record: {exc}", err=True)
        typer.echo("vigil record: nothing to record without the kernel sensor; "
                   "`vigil replay` and the log sources still work", err=True)
        raise typer.Exit(2) from None
    try:
        with open(output, "ab"):
            pass
    except OSError as exc:
        sensor.stop()
        typer.echo(f"vigil record: {output}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    # Ctrl-C and SIGTERM set a flag instead of raising: an exception in the middle of a
    # ring-buffer batch would lose the events of that batch
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    with EventWriter(output) as writer:
        rec = Recorder(sensor, writer)
        try:
            rec.run(duration, should_stop=stop.is_set)
            rec.write_batch(sensor.read(0.0))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sensor.stop()
    interrupted = stop.is_set()
    st = sensor.stats()
    filtered = (st["ignored_reads"] + st["ignored_missing_reads"] + st["ignored_missing_execs"])
    typer.echo(f"recorded {rec.written} events to {output} "
               f"(kernel drops: {st['drops']}, decode errors: {st['decode_errors']}, "
               f"dropped by the kernel filters: {filtered}"
               + (", --raw" if raw else "") + ")"
               + (" [interrupted]" if interrupted else ""), err=True)


def register(app: typer.Typer) -> None:
    """Add `vigil record` to the CLI."""
    app.command("record")(record)
