"""Sigma rules, run natively: parsed by pySigma, compiled to the same predicates as Falco.

Public API:
- `load_sigma_paths(paths) -> SigmaLoadResult`: compiled rules, unsupported rules (id, path,
  reason) and parse errors for rule files/directories;
- `SigmaEngine(rules).on_event(event) -> list[Detection]`;
- `SigmaFieldMapping` / `LogsourceRouter`: the field tables and logsource routing, with
  configuration overrides;
- `validate_sigma(result) -> SigmaValidationReport` for `vigil rules validate`.
"""

from vigil.rules.sigma.engine import SigmaEngine
from vigil.rules.sigma.logsource import CustomLogsource, LogsourceRouter
from vigil.rules.sigma.mapping import SigmaFieldMapping
from vigil.rules.sigma.ruleset import (CompiledSigmaRule, SigmaLoadResult, UnsupportedSigmaRule,
                                       load_sigma_paths)
from vigil.rules.sigma.validate import SigmaValidationReport, validate_sigma

__all__ = [
    "CompiledSigmaRule", "CustomLogsource", "LogsourceRouter", "SigmaEngine",
    "SigmaFieldMapping", "SigmaLoadResult", "SigmaValidationReport", "UnsupportedSigmaRule",
    "load_sigma_paths", "validate_sigma",
]
