"""`vigil rules validate`, `vigil rules list` and `vigil rules test`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vigil.rules.falco.loader import RuleSet, load_rules
from vigil.rules.sources import classify_paths

rules_app = typer.Typer(no_args_is_help=True, help="Check and inspect Falco and Sigma rules.")


def _load(paths: list[str]):
    from vigil.rules.sigma import load_sigma_paths

    rp = classify_paths(paths)
    falco = load_rules(rp.falco) if rp.falco else RuleSet()
    sigma = load_sigma_paths(rp.sigma) if rp.sigma else None
    return rp, falco, sigma


@rules_app.command("validate")
def validate(paths: list[str] = typer.Argument(..., help="Rule files or directories "
                                                "(Falco or Sigma; `builtin` = Vigil's defaults)"),
             quiet_warnings: bool = typer.Option(False, "--no-warnings",
                                                 help="Print errors only."),
             notes: bool = typer.Option(False, "--notes",
                                        help="Also print what each compiled Sigma rule "
                                             "assumes or approximates (the audit rules of "
                                             "an auditd rule, fields no sensor fills)."),
             kernel_filters: bool = typer.Option(
                 False, "--kernel-filters",
                 help="Also print what each rule (and each default detector) costs in "
                      "read-only opens crossing from the kernel, and whether the kernel "
                      "can filter them (docs/sensor.md).")
             ) -> None:
    """Load and compile rules; print errors and warnings; exit 1 on any error."""
    rp, falco, sigma = _load(paths)
    n_err = 0
    for e in falco.errors:
        typer.echo(f"ERROR {e}")
        n_err += 1
    if not quiet_warnings:
        for w in falco.warnings:
            typer.echo(f"WARNING {w}")
    if sigma is not None:
        for e in sigma.errors:
            typer.echo(f"ERROR {e}")
            n_err += 1
        for u in sigma.unsupported:
            typer.echo(f"ERROR unsupported Sigma rule {u}")
            n_err += 1
        if notes:
            from vigil.terminal import safe_text
            for r in sigma.rules:
                for n in r.notes:
                    typer.echo(safe_text(f"NOTE sigma {r.rule_id} {r.title}: {n}"))
    if kernel_filters:
        from vigil.detectors.registry import build_detectors
        from vigil.rules.kernel_filters import plan_reads, plan_writes
        from vigil.terminal import safe_text

        detectors = build_detectors({}, None, None)
        for plan in (plan_reads(falco, sigma, detectors), plan_writes(falco, sigma, detectors)):
            for line in plan.explain():
                typer.echo(safe_text(f"KERNEL {line}"))
    n_sigma = len(sigma.rules) if sigma is not None else 0
    typer.echo(f"{len(rp.falco)} Falco file(s): {len(falco.rules)} rule(s) compiled, "
               f"{len(falco.errors)} error(s), {len(falco.warnings)} warning(s); "
               f"Sigma: {n_sigma} rule(s) compiled"
               + (f", {len(sigma.unsupported)} unsupported, {len(sigma.errors)} error(s)"
                  if sigma is not None else ""))
    raise typer.Exit(1 if n_err else 0)


@rules_app.command("list")
def list_rules(paths: Optional[list[str]] = typer.Argument(
                   None, help="Rule files or directories (default: the config's rules, "
                              "else builtin)"),
               config: Optional[Path] = typer.Option(
                   None, "--config", "-c", help="vigil.toml: list what it loads (rules, "
                                                "detectors) and what its allowlist "
                                                "silences"),
               as_json: bool = typer.Option(False, "--json", help="One JSON document."),
               brief: bool = typer.Option(False, "--brief",
                                          help="One line per rule, no descriptions.")
               ) -> None:
    """List rules (and, with a config, detectors) with description, priority, state,
    event types and what silences them."""
    import json

    from vigil.commands.common import load_or_exit
    from vigil.config import load_config
    from vigil.rules.inventory import build_inventory
    from vigil.rules.inventory_report import inventory_lines

    # only the configuration named: without one, the rule files alone (as `validate`)
    cfg = load_or_exit(config, "rules list")[0] if config is not None else load_config(None)
    inv = build_inventory(cfg, paths or None, with_detectors=config is not None)
    for e in inv.errors:
        typer.echo(f"ERROR {e}", err=True)
    if as_json:
        typer.echo(json.dumps(inv.to_dict(), indent=2))
    else:
        for line in inventory_lines(inv, brief):
            typer.echo(line)
    raise typer.Exit(1 if inv.errors else 0)


@rules_app.command("test")
def test_rules(specs: list[str] = typer.Argument(..., help="Rule test spec files or "
                                                "directories (`builtin` = the specs of "
                                                "Vigil's default rules)"),
               as_json: bool = typer.Option(False, "--json",
                                            help="One JSON document with every result."),
               name: Optional[str] = typer.Option(None, "--name", "-k",
                                                  help="Only tests whose name contains "
                                                       "this text."),
               verbose: bool = typer.Option(False, "--verbose", "-v",
                                            help="Also list the tests that pass.")) -> None:
    """Run rule test specs: events and the rules that must (not) fire on them.
    Exit 1 when a test fails, 2 when a spec is malformed."""
    import json

    from vigil.ruletest import spec_files
    from vigil.ruletest.report import exit_code, json_report, text_report
    from vigil.ruletest.runner import RuleTestRunner

    files, missing = spec_files(specs)
    for m in missing:
        typer.echo(f"ERROR {m}", err=True)
    runner = RuleTestRunner()
    results = [runner.run_file(f, name) for f in files]
    if name and files and not any(r.cases or r.errors or r.rule_errors for r in results):
        typer.echo(f"ERROR no test name contains {name!r}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(json_report(results), indent=2))
    else:
        for line in text_report(results, verbose):
            typer.echo(line)
    raise typer.Exit(2 if missing else exit_code(results))


def register(app: typer.Typer) -> None:
    """Add the `rules` command group."""
    app.add_typer(rules_app, name="rules")
