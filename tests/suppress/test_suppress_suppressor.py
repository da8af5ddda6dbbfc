"""The suppression stage: layer order, what a suppression records, nothing dropped."""

from __future__ import annotations

from pathlib import Path

from suppress_fixtures import detection, proc

from vigil.config import load_config
from vigil.detections import Suppression
from vigil.priority import Priority
from vigil.suppress.allowlist import Allowlist
from vigil.suppress.baseline import Baseline
from vigil.suppress.holder import AllowlistHolder
from vigil.suppress.suppressor import Suppressor


def test_dynamic_suppression_names_the_entry_and_its_reason() -> None:
    al = Allowlist.from_dict({"detectors": {"data_exfil": {"skip_binaries": [
        {"value": "cc", "reason": "compilers read system headers, not secrets"}]}}})
    det = detection(name="data_exfil", process=proc("/usr/bin/cc"))
    out = Suppressor(al).process(det)
    assert out.suppressed == Suppression(
        layer="dynamic", entry="allowlist.detectors.data_exfil.skip_binaries=cc",
        reason="compilers read system headers, not secrets")
    # everything else about the detection is kept for the audit trail
    assert (out.name, out.evidence, out.output) == (det.name, det.evidence, det.output)
    assert det.suppressed is None  # the input is not modified


def test_unmatched_detection_passes_unchanged() -> None:
    det = detection(name="data_exfil", process=proc("/usr/bin/curl"))
    sup = Suppressor(Allowlist.from_dict({"processes": ["cc"]}))
    assert sup.process(det) is det
    assert sup.counts["incident"] == 1


def test_static_suppression_is_never_overwritten() -> None:
    static = Suppression(layer="static", entry="webshell.npm_scripts", reason="npm build")
    det = detection(name="webshell", process=proc("/bin/sh"))
    det.suppressed = static
    sup = Suppressor(Allowlist.from_dict({"processes": ["sh"]}))
    out = sup.process(det)
    assert out is det and out.suppressed is static
    assert sup.counts["static"] == 1


def test_dynamic_comes_before_baseline(tmp_path: Path) -> None:
    now = [0.0]
    baseline = Baseline(tmp_path / "b.sqlite", learn_hours=1, clock=lambda: now[0])
    det = detection(name="data_exfil", process=proc("/usr/bin/cc"))
    sup = Suppressor(Allowlist(), baseline)
    assert sup.process(det).suppressed is None  # learning
    now[0] = 7200.0
    assert sup.process(det).suppressed.layer == "baseline"
    sup = Suppressor(Allowlist.from_dict({"processes": ["cc"]}), baseline)
    assert sup.process(det).suppressed.layer == "dynamic"
    baseline.close()


def test_a_swapped_allowlist_applies_to_the_next_detection() -> None:
    holder = AllowlistHolder()
    sup = Suppressor(holder)
    det = detection(name="data_exfil", process=proc("/usr/bin/cc"))
    assert sup.process(det).suppressed is None
    holder.swap(Allowlist.from_dict({"processes": ["cc"]}))
    assert sup.process(det).suppressed is not None
    assert holder.generation == 1


def test_fp6_noisy_rules_switched_off_by_name_and_id_in_vigil_toml(tmp_path: Path) -> None:
    """False positive #6: a noisy rule is switched off for one environment in vigil.toml;
    its hits are still returned (for the audit trail), marked suppressed with the reason."""
    path = tmp_path / "vigil.toml"
    path.write_text(
        '[allowlist.rules]\n'
        'suppress = [\n'
        '  { value = "Run shell untrusted", reason = "monitoring runs ip neigh show" },\n'
        '  { value = "4f5e2a10-1c2d-4e3f-8a9b-0c1d2e3f4a5b", reason = "noisy here" },\n'
        ']\n')
    sup = Suppressor(load_config(path).allowlist)
    noisy_falco = detection(kind="falco", name="Run shell untrusted",
                            process=proc("/bin/sh", args=["-c", "ip neigh show"]))
    noisy_sigma = detection(kind="sigma", name="Linux Recon Shell",
                            rule_id="4f5e2a10-1c2d-4e3f-8a9b-0c1d2e3f4a5b")
    other = detection(kind="falco", name="Read sensitive file untrusted",
                      priority=Priority.CRITICAL)
    outs = [sup.process(d) for d in (noisy_falco, noisy_sigma, other)]
    assert outs[0].suppressed == Suppression(
        layer="dynamic", entry="allowlist.rules.suppress=Run shell untrusted",
        reason="monitoring runs ip neigh show")
    assert outs[1].suppressed.entry == \
        "allowlist.rules.suppress=4f5e2a10-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
    assert outs[2].suppressed is None
    assert sup.counts == {"dynamic": 2, "incident": 1}


def test_from_config_builds_allowlist_and_baseline(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text('state_dir = "state"\n[baseline]\nenabled = true\nlearn_hours = 1\n'
                    '[allowlist]\nprocesses = ["cc"]\n')
    sup = Suppressor.from_config(load_config(path))
    assert sup.baseline is not None and sup.baseline.path == tmp_path / "state" / "baseline.sqlite"
    assert sup.baseline.path.exists()
    assert sup.process(detection(process=proc("/usr/bin/cc"))).suppressed.layer == "dynamic"
    sup.baseline.close()
    assert Suppressor.from_config(load_config(None)).baseline is None
