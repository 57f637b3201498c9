"""``pulse reconcile``: every invariant of the books, checked against the warehouse.

Each check counts what it looked at and returns the keys that break it (with a
short detail), so a red result names what to look at. The checks read the
deduplicated tables (``FINAL``). ``--from/--to`` restrict the click, payout and
closed-month checks to those UTC days (a closed month is checked when it
overlaps them); the ledger and statement-seal checks always cover everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.config import Settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.close import ADJUSTMENTS
from pipelines.warehouse.reconcile_close import (
    adjustments_frozen,
    closed_months_balance,
    statements_intact,
)
from pipelines.warehouse.reconcile_scope import CheckResult, Scope, compare_totals
from pipelines.warehouse.reconcile_sql import run_sql_check, sql_checks

# --- pure: verdict and rendering ---------------------------------------------------------------


def verdict_line(results: Sequence[CheckResult]) -> str:
    """One line: all checks hold, or which failed and the first offending key."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return f"reconcile: OK, all {len(results)} checks hold"
    names = ", ".join(f"{r.name} ({r.offending})" for r in failed)
    first = next((r.examples[0] for r in failed if r.examples), "")
    tail = f"; first: {first}" if first else ""
    return f"reconcile: FAILED, {len(failed)} of {len(results)} checks: {names}{tail}"


def render_results(results: Sequence[CheckResult], scope: Scope) -> str:
    """The readable table of every check, then the offending keys of the failed ones."""
    header = ("check", "status", "checked", "offending", "invariant")
    rows = [
        (r.name, "ok" if r.ok else "FAILED", str(r.checked), str(r.offending), r.description)
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header) - 1)]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            row[i].rjust(widths[i]) if i in (2, 3) else row[i].ljust(widths[i])
            for i in range(len(widths))
        ]
        return "  ".join([*cells, row[-1]]).rstrip()

    out = [f"pulse reconcile ({scope.describe()})", fmt(header)]
    out.append("  ".join("-" * w for w in [*widths, len(header[-1])]))
    out.extend(fmt(row) for row in rows)
    for result in results:
        if result.ok:
            continue
        shown = len(result.examples)
        more = f", first {shown} shown" if shown < result.offending else ""
        out.append(f"\n{result.name}: {result.offending} offending{more}")
        out.extend(f"  {example}" for example in result.examples)
    out.append("")
    out.append(verdict_line(results))
    return "\n".join(out)


def run_checks(
    wh: Warehouse, settings: Settings, scope: Scope | None = None, limit: int = 20
) -> list[CheckResult]:
    """Every check, in a fixed order."""
    scope = scope or Scope()
    results = [run_sql_check(wh, check, scope, limit) for check in sql_checks(settings)]
    results.append(closed_months_balance(wh, scope, limit))
    results.append(statements_intact(wh, limit))
    results.append(adjustments_frozen(wh, limit))
    return results


__all__ = [
    "ADJUSTMENTS",
    "CheckResult",
    "Scope",
    "compare_totals",
    "render_results",
    "run_checks",
    "verdict_line",
]
