"""Reports as HTML: a drift report and a model's training metrics, shown in a notebook
(``_repr_html_``) or saved as one standalone file (``save_html``) with the charts inlined, the
report people mail to a colleague.

Every figure is the core's (``DriftReport.to_dict``, ``ChurnModel.metrics``); this module
only lays them out. Text that comes from the data (column names, levels) is escaped. Charts
need matplotlib; without it the report has the tables and says so.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

__all__ = ["drift_html", "model_html", "p_value_text", "save_html"]

_STATUS_COLOURS = {"ok": "#2e7d32", "warn": "#ef6c00", "alert": "#c62828"}
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
.retention-report { max-width: 1100px; }
.retention-report h1 { font-size: 1.5em; margin-bottom: 0.2em; }
.retention-report h2 { font-size: 1.15em; margin-top: 1.4em; }
.retention-report .verdict { padding: 0.6em 1em; border-radius: 6px; color: white; font-weight: 600; }
.retention-report table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
.retention-report th, .retention-report td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
.retention-report td.num { text-align: right; font-variant-numeric: tabular-nums; }
.retention-report .status { font-weight: 600; }
.retention-report .charts img { max-width: 48%; margin: 0.5%; }
.retention-report .note { color: #666; font-size: 0.85em; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}"


def p_value_text(p: float | None) -> str:
    """A p-value as people read it: 0.034, 3.1e-07, or < 1e-300 when it underflows (the
    report's and the web app's tables)."""
    if p is None:
        return ""
    if p == 0:
        return "< 1e-300"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _p_value(p: float | None) -> str:
    return _e(p_value_text(p))


def _status(status: str) -> str:
    colour = _STATUS_COLOURS.get(status, "#555")
    return f'<span class="status" style="color:{colour}">{_e(status)}</span>'


def _png(draw: Any) -> str | None:
    """A chart as an inline PNG (a data URI), or None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    try:
        draw(ax)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _charts(images: list[tuple[str, str | None]]) -> str:
    if not images:
        return ""
    if any(uri is None for _, uri in images):
        return '<p class="note">Charts need matplotlib (<code>pip install matplotlib</code>).</p>'
    return '<div class="charts">' + "".join(
        f'<img alt="{_e(title)}" title="{_e(title)}" src="{uri}">' for title, uri in images
    ) + "</div>"


def drift_html(report: Any, charts: int = 6) -> str:
    """The drift report as an HTML fragment: the verdict, the prediction drift, every feature's
    status and figures, and the histograms of the ``charts`` most drifted features."""
    from . import plot

    d = report.to_dict()
    status = d["verdict"]["status"] if isinstance(d.get("verdict"), dict) else report.status
    colour = _STATUS_COLOURS.get(status, "#555")
    parts = [
        '<div class="retention-report">',
        "<h1>Drift report</h1>",
        f'<p class="verdict" style="background:{colour}">{_e(status.upper())}: {_e(report.summary)}</p>',
        f"<p>Reference: {d['reference_rows']:,} rows. Current: {d['current_rows']:,} rows.</p>",
    ]
    prediction = d.get("prediction")
    if prediction:
        estimated = prediction.get("estimated_current") or {}
        parts += [
            "<h2>The model's predictions</h2><table>",
            f"<tr><th>mean probability</th><td class='num'>{prediction['mean_reference']:.1%} → "
            f"{prediction['mean_current']:.1%}</td></tr>",
            f"<tr><th>PSI of the probabilities</th><td class='num'>{_number(prediction.get('psi'))}</td></tr>",
        ]
        if estimated.get("roc_auc") is not None:
            parts.append(f"<tr><th>expected ROC-AUC now</th><td class='num'>{_number(estimated['roc_auc'])}</td></tr>")
        parts.append("</table>")
    order = {"alert": 0, "warn": 1, "ok": 2}
    features = sorted(d["features"], key=lambda f: (order.get(f["status"], 3), -(f.get("psi") or 0)))
    parts += [
        "<h2>Features</h2><table><tr><th>column</th><th>kind</th><th>status</th><th>PSI</th>"
        "<th>p-value</th><th>missing now</th><th>change</th></tr>",
    ]
    for f in features:
        parts.append(
            f"<tr><td>{_e(f['column'])}</td><td>{_e(f['kind'])}</td><td>{_status(f['status'])}</td>"
            f"<td class='num'>{_number(f.get('psi'))}</td><td class='num'>{_p_value(f.get('p_value'))}</td>"
            f"<td class='num'>{(f.get('missing_current') or 0):.1%}</td><td>{_e(f.get('change'))}</td></tr>"
        )
    parts.append("</table>")
    for key, label in (("missing_columns", "Missing from the current table"), ("new_columns", "New in the current table")):
        if d.get(key):
            parts.append(f"<p><b>{label}:</b> {', '.join(_e(c) for c in d[key])}</p>")
    shown = [f["column"] for f in features[:charts] if f["status"] != "ok"] or [f["column"] for f in features[:1]]
    if shown:
        parts.append("<h2>Distributions</h2>")
        parts.append(_charts([(c, _png(lambda ax, c=c: plot.drift(report, c, ax=ax))) for c in shown]))
    parts.append("</div>")
    return "\n".join(parts)


def model_html(model: Any) -> str:
    """A model's training figures as an HTML fragment: algorithm, threshold, the
    cross-validated metrics (mean ± std), the candidates and the notes."""
    m = model.metrics
    parts = ['<div class="retention-report">', f"<h1>Churn model: {_e(model.algorithm)}</h1>",
             f"<p>Decision threshold {model.threshold:.3f}; risk tiers Low &lt; {model.tiers['medium']:g} "
             f"≤ Medium &lt; {model.tiers['high']:g} ≤ High.</p>"]
    cv = (m.get("cv") or {}).get("summary") if isinstance(m.get("cv"), dict) else None
    if cv:
        parts.append("<h2>Cross-validated</h2><table><tr><th>metric</th><th>mean</th><th>std</th></tr>")
        for name, value in cv.items():
            if isinstance(value, dict) and "mean" in value:
                parts.append(f"<tr><td>{_e(name)}</td><td class='num'>{_number(value['mean'])}</td>"
                             f"<td class='num'>{_number(value.get('std'))}</td></tr>")
        parts.append("</table>")
    for key, label in (("holdout", "Held-out rows"), ("training", "Training rows (optimistic)")):
        figures = m.get(key)
        if isinstance(figures, dict):
            parts.append(f"<h2>{label}</h2><table>")
            for name in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "accuracy", "precision", "recall", "f1"):
                if figures.get(name) is not None:
                    parts.append(f"<tr><td>{name}</td><td class='num'>{_number(figures[name])}</td></tr>")
            parts.append("</table>")
    board = model.leaderboard
    if board.height:
        columns = [c for c in ("name", "selected", "roc_auc", "roc_auc_std", "log_loss", "ece") if c in board.columns]
        parts.append("<h2>Candidates</h2><table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>")
        for row in board.select(columns).iter_rows():
            cells = "".join(
                f"<td class='num'>{_number(v)}</td>" if isinstance(v, float) else f"<td>{_e(v)}</td>" for v in row
            )
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    notes = getattr(model, "notes", None) or []
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</div>")
    return "\n".join(parts)


def save_html(fragment: str, path: str | os.PathLike[str], title: str) -> Path:
    """``fragment`` as one standalone HTML file (styles inline, charts as data URIs), written
    whole or not at all."""
    path = Path(path)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n{fragment}\n</body></html>\n"
    )
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
