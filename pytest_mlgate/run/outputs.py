"""Writing a gated run's outputs: the HTML report, the JSON, the Markdown summary and the DVC
metrics file, and the run logged to Weights & Biases (the plugin at the end of a session, on
rank 0 only; ``mlgate merge`` after joining shards)."""

from __future__ import annotations

from pathlib import Path

from pytest_mlgate.run.session import GateSession


def write_outputs(gate: GateSession) -> dict[str, Path]:
    """Write the HTML, JSON, Markdown and metrics outputs asked for; the files written, by
    name."""
    from pytest_mlgate.report.markdown import render_markdown, write_markdown
    from pytest_mlgate.report.matrix import ReportInput

    gate.outputs_written = True
    outcome = gate.outcome()
    outputs = gate.plan.outputs
    if outputs.json is not None:
        from pytest_mlgate.report.json_report import write_json

        write_json(
            outputs.json,
            outcome,
            list(gate.ran),
            suite=gate.plan.suite.suite.name,
            checkpoint=gate.resolved.checkpoint,
            config=str(gate.plan.config.path),
        )
    if outputs.html is not None:
        from pytest_mlgate.report.html import write_html

        history = gate.plan.history
        data = ReportInput(
            outcome,
            gate.baseline,
            gate.history(),
            history.settings,
            history.report,
            gate.resolved.anchor,
            gate.reference,
        )
        write_html(outputs.html, data)
    text = render_markdown(
        outcome,
        baseline=None if gate.baseline is None else gate.baseline.run_id,
        report_hint=_shown_path(outputs.html, gate.plan.cwd) if outputs.html else "the JSON output",
        reference=None if gate.plan.reference is None else gate.plan.reference.location,
        notes=gate.resolved.notes,
    )
    write_markdown(text, outputs.markdown)
    if outputs.metrics is not None:
        from pytest_mlgate.report.metrics_file import write_metrics

        write_metrics(outputs.metrics, outcome)
    written = (outputs.html, outputs.json, outputs.markdown, outputs.metrics)
    files = {path.name: path for path in written if path is not None and path.is_file()}
    if outputs.wandb is not None:
        from pytest_mlgate.run.wandb_log import log_run
        from pytest_mlgate.store.codec import dumps_outcome

        record = dumps_outcome(outcome)
        gate.messages.append(log_run(outputs.wandb, outcome, gate.baseline, files, record))
    return files


def _shown_path(path: Path, cwd: Path) -> str:
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
