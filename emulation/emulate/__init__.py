"""The runner of Vigil's emulation suite (`make emulate`).

It starts `vigil run` with the default configuration, runs every scenario of
`emulation/attacks/` and `emulation/benign/` one at a time, attributes the incidents the
agent prints to the scenario that caused them, judges each scenario against the
expectation in its header and writes the scorecard (terminal, JSON, `docs/detection.md`).

This package is a measuring instrument for the agent, not part of it: it uses only the
standard library and never imports `vigil`.
"""
