"""The short report a person reads after ``pulse run`` (queries the warehouse)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.run.bounded import RunSummary
from pipelines.warehouse.books import month_label
from pipelines.warehouse.reconcile import run_checks, verdict_line


def format_micros(micros: int) -> str:
    """Integer micros as a decimal amount, exactly (no float on the way)."""
    sign = "-" if micros < 0 else ""
    units, fraction = divmod(abs(micros), 1_000_000)
    return f"{sign}{units:,}.{fraction:06d}"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)) for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join("  " + line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def build_report(wh: Warehouse, summary: RunSummary, top: int = 10) -> str:
    out: list[str] = []
    lines = summary.input_lines
    rate = lines / summary.seconds if summary.seconds else 0.0
    out.append(
        f"pulse run: {lines:,} input lines from {summary.input_dir} "
        f"in {summary.seconds:.1f}s ({rate:,.0f} lines/s)"
    )
    steps = ", ".join(f"{name} {secs:.1f}s" for name, secs in summary.step_seconds.items())
    out.append(f"  steps: {steps}")
    if summary.run_id:
        out.append(f"  run id: {summary.run_id} (raw_ingest_ledger.run_id)")

    out.append("\nInput (ingest ledger: lines = accepted + rejected + replays + late)")
    input_rows: list[tuple[object, ...]]
    if summary.ledger:
        input_rows = [
            (
                e.stream,
                e.counts.lines,
                e.counts.accepted,
                e.counts.rejected,
                e.counts.replays,
                e.counts.late,
                "yes" if e.counts.balanced else f"NO ({e.counts.unaccounted:+,} lines)",
            )
            for e in summary.ledger
        ]
        headers: tuple[str, ...] = (
            "stream",
            "lines",
            "accepted",
            "rejected",
            "replays",
            "late",
            "balanced",
        )
    else:
        input_rows = [
            (
                s.stream.value,
                s.lines,
                s.accepted,
                sum(s.rejected.values()),
                s.replays,
                len(s.late_rows),
            )
            for s in summary.streams
        ]
        headers = ("stream", "lines", "accepted", "rejected", "replays", "late")
    out.append(render_table(headers, input_rows))

    reasons: dict[str, int] = {}
    for s in summary.streams:
        for reason, count in s.rejected.items():
            reasons[reason] = reasons.get(reason, 0) + count
    out.append("\nRejected lines by reason")
    if reasons:
        out.append(render_table(("reason", "lines"), sorted(reasons.items(), key=lambda r: -r[1])))
    else:
        out.append("  none")

    t = wh.table
    out.append(f"\nTop {top} creators by engagement (HIGH windows, best rate)")
    _n, rows = wh.query_rows(
        f"SELECT creator_id, countIf(high) AS high_windows, count() AS windows, "
        f"max(engagement_rate) AS best_rate, max(views) AS max_views "
        f"FROM {t('fct_engagement_windows')} FINAL GROUP BY creator_id "
        f"ORDER BY high_windows DESC, best_rate DESC, creator_id LIMIT {top}"
    )
    out.append(render_table(("creator", "high windows", "windows", "best rate", "max views"), rows))

    out.append("\nEligibility granted / revoked")
    _n, rows = wh.query_rows(
        f"SELECT creator_id, min(as_of) AS first_granted, countIf(transition = 'revoked') "
        f"AS revocations FROM {t('fct_eligibility_transitions')} FINAL "
        f"GROUP BY creator_id HAVING countIf(transition = 'granted') > 0 "
        f"ORDER BY first_granted, creator_id LIMIT {top * 3}"
    )
    out.append(
        render_table(("creator", "first granted", "revocations"), rows) if rows else "  none"
    )

    out.append("\nWhy the other creators were not eligible (latest evaluation)")
    _n, rows = wh.query_rows(
        f"SELECT reason, count() AS creators FROM ("
        f"  SELECT creator_id, argMax(reasons, as_of) AS latest FROM {t('fct_eligibility')} FINAL"
        f"  GROUP BY creator_id HAVING countIf(eligible) = 0"
        f") ARRAY JOIN latest AS reason GROUP BY reason ORDER BY creators DESC, reason"
    )
    out.append(render_table(("reason", "creators"), rows) if rows else "  none")

    out.append("\nPayouts per currency")
    _n, rows = wh.query_rows(
        f"SELECT currency, sum(valid_clicks), sum(payable_clicks), sum(gross_micros), "
        f"sum(creator_micros), sum(platform_micros) "
        f"FROM {t('agg_creator_payouts_daily')} FINAL GROUP BY currency ORDER BY currency"
    )
    money_rows = [
        (cur, valid, payable, format_micros(g), format_micros(c), format_micros(p))
        for cur, valid, payable, g, c, p in rows
    ]
    out.append(
        render_table(
            ("currency", "valid clicks", "payable", "gross", "creators", "platform"), money_rows
        )
        if money_rows
        else "  none"
    )

    _n, rows = wh.query_rows(
        f"SELECT status, count() FROM {t('fct_attributed_clicks')} FINAL "
        f"GROUP BY status ORDER BY count() DESC"
    )
    out.append("\nClicks by status")
    out.append(render_table(("status", "clicks"), rows) if rows else "  none")

    if summary.adjustments:
        out.append("\nAdjustments of closed months booked by this run")
        adj_rows = [
            (
                month_label(a.for_month),
                month_label(a.booked_month),
                a.creator_id,
                a.currency,
                a.delta.valid_clicks,
                format_micros(a.delta.creator_micros),
                a.reason,
            )
            for a in summary.adjustments
        ]
        out.append(
            render_table(
                ("for month", "booked in", "creator", "currency", "valid clicks", "creator", "why"),
                adj_rows,
            )
        )

    settings = summary.settings or load_settings()
    out.append("")
    out.append(verdict_line(run_checks(wh, settings)) + " (details: pulse reconcile)")
    return "\n".join(out)
