"""`vigil rules validate`, `vigil rules list` and `vigil rules test`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vigil.rules.falco.loader import RuleSet, load_rules
from vigil.rules.sources import BUILTIN, classify_paths

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
                                                 help="Print errors only.")) -> None:
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
    n_sigma = len(sigma.rules) if sigma is not None else 0
    typer.echo(f"{len(rp.falco)} Falco file(s): {len(falco.rules)} rule(s) compiled, "
               f"{len(falco.errors)} error(s), {len(falco.warnings)} warning(s); "
               f"Sigma: {n_sigma} rule(s) compiled"
               + (f", {len(sigma.unsupported)} unsupported, {len(sigma.errors)} error(s)"
                  if sigma is not None else ""))
    raise typer.Exit(1 if n_err else 0)


def _types(types: frozenset[str] | None) -> str:
    if types is None:
        return "*"
    return ",".join(sorted(types))


@rules_app.command("list")
def list_rules(paths: Optional[list[str]] = typer.Argument(None, help="Rule files or "
                                                          "directories (default: builtin)")
               ) -> None:
    """List rules with priority, tags, enabled state and event types."""
    rp, falco, sigma = _load(paths or [BUILTIN])
    for e in falco.errors:
        typer.echo(f"ERROR {e}", err=True)
    typer.echo(f"{'RULE':50} {'PRIORITY':13} {'ENABLED':7} {'EVENT TYPES':30} TAGS")
    for r in falco.rules:
        typer.echo(f"{r.name[:50]:50} {r.priority.label:13} {'yes' if r.enabled else 'no':7} "
                   f"{_types(r.compiled.event_types)[:30]:30} {','.join(r.tags)}")
    if sigma is not None:
        for s in sigma.rules:
            typer.echo(f"{('sigma:' + s.rule_id)[:50]:50} {s.priority.label:13} {'yes':7} "
                       f"{_types(s.event_types)[:30]:30} {','.join(s.tags)}  {s.title}")
        for u in sigma.unsupported:
            typer.echo(f"{('sigma:' + u.rule_id)[:50]:50} {'-':13} {'no':7} "
                       f"{'-':30} unsupported: {u.reason}")
    if falco.errors:
        raise typer.Exit(1)


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
    if as_json:
        typer.echo(json.dumps(json_report(results), indent=2))
    else:
        for line in text_report(results, verbose):
            typer.echo(line)
    raise typer.Exit(2 if missing else exit_code(results))


def register(app: typer.Typer) -> None:
    """Add the `rules` command group."""
    app.add_typer(rules_app, name="rules")
