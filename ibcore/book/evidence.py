"""A chapter's secondary verdicts and checks as one compact table (all chapters): the evidence a
referee checks, one row per record, under the chapter's primary verdict card. Each row keeps the
anchor ``verdict-<claim>`` the verdicts page links to; the JSON record holds everything else."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from ibcore.verdicts import _COLOURS, DIRECTION_SIGNS, KIND_LABELS, Verdict


def _num(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else "n/a"


def records_table(records: Sequence[Verdict], caption: str = "") -> str:
    """HTML of ``records`` (secondary verdicts and checks): kind, statement, status (colour and
    word), mean ± spread, 95 % bound, threshold with its calibration values, seeds passing on
    their own, and the analysis settings in which the status holds."""
    e = html.escape
    rows = []
    for v in records:
        c = _COLOURS.get(v.status, "#57606a")
        cal = ", ".join(_num(x) for x in v.calibration_values)
        needs = f"{DIRECTION_SIGNS.get(v.direction, v.direction)} {v.threshold:g}"
        if cal:
            needs += f" (calibration {cal})"
        holds = f"{v.robustness}" if v.robustness else "—"
        unit = v.unit if len(v.per_seed) == 1 else f"{v.unit}s"
        rows.append(
            f'<tr id="verdict-{e(v.claim)}" data-status="{e(v.status)}">'
            f"<td>{e(KIND_LABELS.get(v.kind, v.kind))}</td>"
            f"<td>{e(v.statement)}<br><code>{e(v.claim)}</code></td>"
            f'<td><b class="ibv-status" data-status="{e(v.status)}" style="color:{c}">'
            f"{e(v.status)}</b></td>"
            f"<td>{e(v.mean_text())}</td><td>{_num(v.bound)}</td>"
            f"<td>{e(needs)}</td><td>{v.n_pass} of {len(v.per_seed)} {e(unit)}</td>"
            f"<td>{e(holds)}</td></tr>"
        )
    head = ("<tr><th>kind</th><th>claim</th><th>status</th><th>mean ± spread</th>"
            "<th>95 % bound</th><th>needs</th><th>pass alone</th><th>status holds in</th></tr>")  # fmt: skip
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return (f'<div style="overflow-x:auto"><table class="ibcore-records">{cap}<thead>{head}'
            "</thead><tbody>" + "".join(rows) + "</tbody></table></div>")  # fmt: skip


def show_records(records: Sequence[Verdict], caption: str) -> None:
    """Display :func:`records_table` in a notebook."""
    from IPython.display import HTML, display

    display(HTML(records_table(records, caption)))
