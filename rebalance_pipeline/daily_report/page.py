"""The daily report of a date: its sections (text, tables, plots) from ``facts``,
rendered by the Jinja2 templates beside this module as one self-contained HTML page
(CSS inline, plots as base64 PNG, nothing fetched) and as Markdown with the same text
and tables for the ``daily_report`` asset's metadata.

Nothing in the page depends on when or where it was built: same tables, same bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import altair as alt
import jinja2
import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.daily_report import charts, facts
from rebalance_pipeline.reporting.cells import dollars
from rebalance_pipeline.reporting.summary import route_review_counts, trade_totals
from rebalance_pipeline.review.state import ReviewState

MOVED_ROWS = 10  # accounts whose route changed, listed; the rest counted
BUDGET_ROWS = 20  # accounts with a gain budget, listed; the rest counted


@dataclasses.dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    more: int = 0  # rows left out of a long table

    @classmethod
    def of(cls, columns: Sequence[str], rows: Iterable[Sequence[object]], limit: int = 0) -> Table:
        cells = [tuple(str(cell) for cell in row) for row in rows]
        kept = cells[:limit] if limit else cells
        return cls(tuple(columns), tuple(kept), len(cells) - len(kept))


@dataclasses.dataclass(frozen=True)
class Figure:
    alt: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclasses.dataclass(frozen=True)
class Section:
    key: str  # the HTML id
    title: str
    lines: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figure: Figure | None = None


@dataclasses.dataclass(frozen=True)
class Page:
    """A titled list of sections, rendered by the templates beside this module (the
    daily report and the simulation report share them)."""

    title: str
    sections: tuple[Section, ...]

    def html(self) -> str:
        return _environment().get_template("page.html").render(report=self)

    def markdown(self) -> str:
        return _environment().get_template("page.md").render(report=self)


@dataclasses.dataclass(frozen=True)
class DailyReport:
    day: dt.date
    sections: tuple[Section, ...]

    def page(self) -> Page:
        return Page(f"Daily report {self.day.isoformat()}", self.sections)

    def html(self) -> str:
        return self.page().html()

    def markdown(self) -> str:
        return self.page().markdown()


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("rebalance_pipeline.daily_report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["md_cell"] = lambda text: str(text).replace("|", "\\|")
    return environment


def build_report(
    day: dt.date,
    today: facts.ReportTables,
    previous: facts.ReportTables | None,
    previous_day: dt.date,
) -> DailyReport:
    """The report of ``day``; ``previous``: the tables of ``previous_day`` (None when that
    date has not been run)."""
    review = ReviewState(today.review_queue, today.review_outcomes)
    return DailyReport(
        day,
        (
            _accounts(today),
            _suspensions(today.data_quality_issues),
            _manual(today),
            _trades(today, review),
            _drift(today, review),
            _scores(today.routing_decisions),
            _outliers(today.routing_decisions),
            _holds_and_halts(today),
            _transitions(today.transition_progress),
            _tax_rules(today.account_valuations, today.gain_budgets, today.optimization_results),
            _changes(today, previous, previous_day),
        ),
    )


def write_daily_report(day: dt.date, home: Path) -> tuple[Path, DailyReport]:
    """Build the report of ``day`` from the stored tables under ``home`` and write the
    page to ``storage.report_file``; FileNotFoundError when ``day`` was not run."""
    today = facts.ReportTables.stored(day, home)
    (previous_day,) = previous_business_days(day, 1)
    try:
        previous = facts.ReportTables.stored(previous_day, home)
    except FileNotFoundError:
        previous = None
    report = build_report(day, today, previous, previous_day)
    path = storage.report_file(day, home)
    storage.atomic_write_bytes(path, report.html().encode())
    return path, report


def _first(accounts: list[str], total: int) -> str:
    listed = ", ".join(accounts)
    return listed + (f" and {total - len(accounts)} more" if total > len(accounts) else "")


def _accounts(tables: facts.ReportTables) -> Section:
    status = tables.account_status
    suspended = status.filter(pl.col("status") == "suspended").height
    counts = route_review_counts(tables.routing_decisions)
    return Section(
        "accounts",
        "Accounts per route and review level",
        (f"{status.height} accounts: {status.height - suspended} ok, {suspended} suspended.",),
        (Table.of(("route", "auto", "review", "total"), counts.iter_rows()),),
    )


def _suspensions(findings: pl.DataFrame) -> Section:
    groups = facts.suspension_groups(findings)
    rows = [
        (check, source_file or "(no file)", accounts, _first(first, accounts))
        for check, source_file, accounts, first in groups.iter_rows()
    ]
    lines = () if rows else ("No account is suspended.",)
    tables = (Table.of(("cause", "file", "accounts", "first accounts"), rows),) if rows else ()
    return Section("suspensions", "Suspensions by cause and file", lines, tables)


def _manual(tables: facts.ReportTables) -> Section:
    manual = facts.manual_accounts(tables.routing_decisions, tables.manual_queue)
    rows = []
    for account, reasons, amount, due, cash in manual.iter_rows():
        requested = amount is not None  # bad data and a due high-priority cash request
        money = (dollars(amount), due, dollars(cash)) if requested else ("", "", "")
        rows.append((account, ", ".join(reasons), *money))
    columns = ("account", "reasons", "amount to raise", "due", "cash on hand")
    lines = () if rows else ("No account awaits manual handling.",)
    return Section(
        "manual",
        "Manual queue",
        lines,
        (Table.of(columns, rows),) if rows else (),
    )


def _trades(tables: facts.ReportTables, review: ReviewState) -> Section:
    released = pl.concat([tables.released_trades, review.released()])
    totals = trade_totals(released, tables.optimization_results)
    per_custodian = facts.trades_per_custodian(released, tables.account_valuations)
    money = [
        f"Turnover {dollars(totals.turnover)} (buys {dollars(totals.buys)}, "
        f"sells {dollars(totals.sells)}).",
        f"Estimated taxes {dollars(totals.estimated_taxes)}, realized gains "
        f"{dollars(totals.realized_gains)}, harvested losses "
        f"{dollars(totals.harvested_losses)} (taxable accounts only).",
    ]
    custodian_rows = [
        (custodian, side, trades, dollars(amount))
        for custodian, side, trades, amount in per_custodian.iter_rows()
    ]
    return Section(
        "trades",
        "Released, awaiting review, rejected",
        tuple(money),
        (
            Table.of(
                ("trades", "count", "accounts"),
                review.trade_states(tables.released_trades).iter_rows(),
            ),
            Table.of(("custodian", "side", "trades", "amount"), custodian_rows),
        ),
        figure("Released trades per custodian", charts.custodian_chart, per_custodian),
    )


def _drift(tables: facts.ReportTables, review: ReviewState) -> Section:
    trades = pl.concat([tables.released_trades, review.released(), review.awaiting()])
    drift = facts.drift_before_after(tables.asset_class_drift, tables.account_valuations, trades)
    rows = [
        (asset_class, accounts, f"{before:.2f}", f"{after:.2f}")
        for asset_class, accounts, before, after in drift.iter_rows()
    ]
    return Section(
        "drift",
        "Drift before vs after, by asset class",
        (
            "Mean absolute drift from the model's target in percentage points, over the "
            "accounts with trades released or awaiting review (after: estimated from the "
            "trades' amounts).",
        ),
        (Table.of(("asset class", "accounts", "before", "after"), rows),),
        figure("Drift before vs after by asset class", charts.drift_chart, drift),
    )


def _scores(decisions: pl.DataFrame) -> Section:
    scored = facts.scored_accounts(decisions)
    rows = [
        (group, accounts, above, f"{score:.1f}", f"{threshold:.1f}")
        for group, accounts, above, score, threshold in facts.score_by_group(scored).iter_rows()
    ]
    columns = ("account group", "scored", "above threshold", "median score", "median threshold")
    return Section(
        "scores",
        "Score vs threshold per account group",
        ("Scores and thresholds in basis points of the account's value.",),
        (Table.of(columns, rows),),
        figure("Score vs threshold per account", charts.score_chart, scored),
    )


def _outliers(decisions: pl.DataFrame) -> Section:
    rows = [
        (flag, accounts, _first(first, accounts))
        for flag, accounts, first in facts.outlier_groups(decisions).iter_rows()
    ]
    lines = () if rows else ("No account is flagged.",)
    table = (Table.of(("flag", "accounts", "first accounts"), rows),) if rows else ()
    return Section("outliers", "Outlier flags", lines, table)


def _holds_and_halts(tables: facts.ReportTables) -> Section:
    holds = tables.active_holds.sort("account_id")
    halts = tables.active_halts.sort("security_id")
    lines = [f"{holds.height} account holds and {halts.height} security halts in force."]
    found = []
    if holds.height:
        found.append(Table.of(("account", "from", "to", "reason"), holds.iter_rows()))
    if halts.height:
        found.append(Table.of(("security", "from", "to", "reason"), halts.iter_rows()))
    return Section("holds", "Holds and halts in force", tuple(lines), tuple(found))


def _transitions(progress: pl.DataFrame) -> Section:
    """Each account in transition: how far it is in its model and what it realized."""
    rows = [
        (
            row["account_id"],
            row["transition_start"],
            "n/a" if row["model_share"] is None else f"{100 * row['model_share']:.1f}%",
            dollars(row["non_model_value"]),
            dollars(row["realized_gain_since_start"])
            + ("" if row["gains_complete"] else " (history incomplete)"),
            "none" if row["remaining_gain_budget_usd"] is None
            else dollars(row["remaining_gain_budget_usd"]),
        )
        for row in progress.sort("account_id").iter_rows(named=True)
    ]  # fmt: skip
    if not rows:
        return Section("transitions", "Transitions", ("No account is in transition.",))
    columns = (
        "account",
        "since",
        "in model securities",
        "outside the model",
        "gains realized since the start",
        "gain budget left",
    )
    lines = (f"{len(rows)} accounts in transition to their model (before today's trades).",)
    return Section("transitions", "Transitions", lines, (Table.of(columns, rows),))


def _tax_rules(valuations: pl.DataFrame, budgets: pl.DataFrame, results: pl.DataFrame) -> Section:
    """Accounts under a rebalance type other than normal, and the use of the annual
    realized-gain budgets (before today's trades, with today's overruns)."""
    types = facts.rebalance_types(valuations)
    typed = int(types["accounts"].sum())
    use = facts.gain_budget_use(budgets, results)
    over = use.filter(pl.col("gain_budget_overrun_usd") > 0).height
    lines = (
        f"{typed} of {valuations.height} accounts rebalance under a rebalance type other "
        "than normal."
        if typed
        else "Every account rebalances normally.",
        f"{use.height} accounts with an annual realized-gain budget, {over} over it today "
        "(a due cash request or a restriction needed the sales)."
        if use.height
        else "No account has an annual realized-gain budget.",
    )
    tables = []
    if typed:
        rows = [(kind, n, _first(first, n)) for kind, n, first in types.iter_rows()]
        tables.append(Table.of(("rebalance type", "accounts", "first accounts"), rows))
    if use.height:
        columns = ("account", "budget", "realized this year", "left before today", "over today")
        tables.append(Table.of(columns, map(_budget_row, use.iter_rows(named=True)), BUDGET_ROWS))
    return Section("tax", "Rebalance types and gain budgets", lines, tuple(tables))


def _budget_row(row: dict) -> tuple[str, ...]:
    left = row["remaining_gain_budget_usd"]
    return (
        row["account_id"],
        dollars(row["gain_budget_usd"]),
        dollars(row["realized_gain_ytd"])
        + ("" if row["year_complete"] else " (history incomplete)"),
        "none" if left is None else dollars(left),
        dollars(row["gain_budget_overrun_usd"]),
    )


def _changes(
    today: facts.ReportTables, previous: facts.ReportTables | None, previous_day: dt.date
) -> Section:
    title = f"Changes since {previous_day.isoformat()}"
    if previous is None:
        return Section("changes", title, (f"{previous_day.isoformat()} has not been run.",))
    changes = facts.changes_since(previous.routing_decisions, today.routing_decisions)
    lines = (
        f"{changes.moved.height} accounts changed route: {changes.newly_suspended} newly "
        f"suspended, {changes.no_longer_suspended} no longer suspended.",
    )
    routes = Table.of(
        ("route", previous_day.isoformat(), "today", "change"),
        ((route, was, now, f"{change:+d}") for route, was, now, change in changes.routes.rows()),
    )
    moved = Table.of(("account", "was", "now"), changes.moved.iter_rows(), limit=MOVED_ROWS)
    return Section("changes", title, lines, (routes, moved) if moved.rows else (routes,))


def figure(
    alt_text: str, chart: Callable[[pl.DataFrame], alt.TopLevelMixin], frame: pl.DataFrame
) -> Figure | None:
    """The chart of ``frame`` as a PNG figure, none for an empty frame."""
    return None if frame.is_empty() else Figure(alt_text, charts.png(chart(frame)))
