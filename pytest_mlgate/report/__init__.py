"""Renderers of a gated run: the terminal table, the HTML regression matrix, the Markdown
summary and the JSON document. They take typed objects
(:class:`~pytest_mlgate.gate.verdicts.GateOutcome`,
:class:`~pytest_mlgate.report.matrix.ReportInput`)
and never import the run or the plugin."""
