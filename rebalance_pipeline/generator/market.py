"""The market of the synthetic book: security master, models, price paths, corporate actions."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

# asset class -> (annual drift, annual volatility)
CLASS_DYNAMICS = {"us_equity": (0.07, 0.16), "intl_equity": (0.06, 0.18), "us_bonds": (0.03, 0.05)}
# security_id, symbol, asset_class, sector, rating, round_lot, identical_group, first close
_SECURITIES = [
    ("SEC-TUSA", "TUSA", "us_equity", "Broad Market", 5, 1, "GRP-TOTAL-US", 250.0),
    ("SEC-TUSB", "TUSB", "us_equity", "Broad Market", 4, 1, "GRP-TOTAL-US", 120.0),
    ("SEC-LCAP", "LCAP", "us_equity", "Broad Market", 4, 1, "GRP-SP500", 480.0),
    ("SEC-LCAQ", "LCAQ", "us_equity", "Broad Market", 3, 1, "GRP-SP500", 520.0),
    ("SEC-SCAP", "SCAP", "us_equity", "Broad Market", 3, 1, "SEC-SCAP", 210.0),
    ("SEC-GRWT", "GRWT", "us_equity", "Technology", 4, 1, "SEC-GRWT", 310.0),
    ("SEC-VALU", "VALU", "us_equity", "Financials", 4, 1, "SEC-VALU", 160.0),
    ("SEC-BRKB", "BRK.B", "us_equity", "Financials", 5, 1, "SEC-BRKB", 410.0),
    ("SEC-TECH", "TECH", "us_equity", "Technology", 3, 100, "SEC-TECH", 190.0),
    ("SEC-SEMI", "SEMI", "us_equity", "Technology", 2, 100, "SEC-SEMI", 860.0),
    ("SEC-SOFT", "SOFT", "us_equity", "Technology", 4, 1, "SEC-SOFT", 95.0),
    ("SEC-HLTH", "HLTH", "us_equity", "Health Care", 4, 1, "SEC-HLTH", 140.0),
    ("SEC-PHRM", "PHRM", "us_equity", "Health Care", 3, 100, "SEC-PHRM", 62.0),
    ("SEC-ENRG", "ENRG", "us_equity", "Energy", 2, 100, "SEC-ENRG", 88.0),
    ("SEC-UTIL", "UTIL", "us_equity", "Utilities", 3, 1, "SEC-UTIL", 70.0),
    ("SEC-CONS", "CONS", "us_equity", "Consumer Staples", 4, 1, "SEC-CONS", 78.0),
    ("SEC-TOBA", "TOBA", "us_equity", "Tobacco", 2, 100, "SEC-TOBA", 44.0),
    ("SEC-TOBB", "TOBB", "us_equity", "Tobacco", 2, 100, "SEC-TOBB", 112.0),
    ("SEC-REIT", "REIT", "us_equity", "Real Estate", 3, 1, "SEC-REIT", 86.0),
    ("SEC-DIVD", "DIVD", "us_equity", "Broad Market", 4, 1, "SEC-DIVD", 58.0),
    ("SEC-QUAL", "QUAL", "us_equity", "Broad Market", 5, 1, "SEC-QUAL", 175.0),
    ("SEC-MOMO", "MOMO", "us_equity", "Broad Market", 3, 1, "SEC-MOMO", 190.0),
    ("SEC-SOCL", "SOCL", "us_equity", "Communication", 3, 1, "SEC-SOCL", 500.0),
    ("SEC-DEVA", "DEVA", "intl_equity", "Broad Market", 4, 1, "GRP-DEVELOPED", 50.0),
    ("SEC-DEVB", "DEVB", "intl_equity", "Broad Market", 4, 1, "GRP-DEVELOPED", 75.0),
    ("SEC-EMKT", "EMKT", "intl_equity", "Broad Market", 3, 1, "SEC-EMKT", 42.0),
    ("SEC-EURO", "EURO", "intl_equity", "Broad Market", 3, 1, "SEC-EURO", 66.0),
    ("SEC-JAPN", "JAPN", "intl_equity", "Broad Market", 3, 100, "SEC-JAPN", 71.0),
    ("SEC-ASIA", "ASIA", "intl_equity", "Broad Market", 2, 100, "SEC-ASIA", 38.0),
    ("SEC-INSC", "INSC", "intl_equity", "Broad Market", 2, 1, "SEC-INSC", 36.0),
    ("SEC-AGGA", "AGGA", "us_bonds", "Aggregate Bond", 5, 1, "GRP-AGG", 98.0),
    ("SEC-AGGB", "AGGB", "us_bonds", "Aggregate Bond", 4, 1, "GRP-AGG", 72.0),
    ("SEC-TRSY", "TRSY", "us_bonds", "Treasury", 5, 1, "SEC-TRSY", 91.0),
    ("SEC-TIPS", "TIPS", "us_bonds", "Treasury", 4, 1, "SEC-TIPS", 107.0),
    ("SEC-MUNI", "MUNI", "us_bonds", "Municipal", 4, 1, "SEC-MUNI", 106.0),
    ("SEC-CORP", "CORP", "us_bonds", "Corporate Bond", 3, 1, "SEC-CORP", 82.0),
    ("SEC-HYLD", "HYLD", "us_bonds", "High Yield", 2, 100, "SEC-HYLD", 77.0),
    ("SEC-SHRT", "SHRT", "us_bonds", "Treasury", 4, 1, "SEC-SHRT", 49.0),
    ("SEC-MBSX", "MBSX", "us_bonds", "Mortgage", 3, 1, "SEC-MBSX", 46.0),
    ("SEC-INTB", "INTB", "us_bonds", "Aggregate Bond", 3, 1, "SEC-INTB", 55.0),
]
# shares traded a day by a fund of the class rated 5; a lower rating trades less (a
# synthetic stand-in for the volume a market-data vendor would deliver)
CLASS_DAILY_VOLUME = {"us_equity": 8_000_000, "intl_equity": 3_000_000, "us_bonds": 5_000_000}
SPLIT_SECURITY = ("SEC-SEMI", 2.0)
SYMBOL_CHANGE = ("SEC-SOCL", "SOCL", "MTAX")
MASTER_EFFECTIVE_FROM = dt.date(2020, 1, 1)
# model -> security -> target weight
MODELS = {
    "M-GROWTH": {
        "SEC-TUSA": 0.30,
        "SEC-GRWT": 0.10,
        "SEC-SEMI": 0.08,
        "SEC-SOCL": 0.07,
        "SEC-DEVA": 0.20,
        "SEC-EMKT": 0.10,
        "SEC-AGGA": 0.15,
    },
    "M-BALANCED": {
        "SEC-LCAP": 0.25,
        "SEC-VALU": 0.08,
        "SEC-TOBA": 0.04,
        "SEC-BRKB": 0.05,
        "SEC-DEVB": 0.18,
        "SEC-AGGA": 0.25,
        "SEC-TRSY": 0.15,
    },
    "M-INCOME": {
        "SEC-DIVD": 0.15,
        "SEC-UTIL": 0.08,
        "SEC-TOBB": 0.05,
        "SEC-CONS": 0.07,
        "SEC-EURO": 0.10,
        "SEC-AGGB": 0.25,
        "SEC-CORP": 0.15,
        "SEC-MUNI": 0.15,
    },
    "M-GLOBAL": {
        "SEC-TUSB": 0.20,
        "SEC-QUAL": 0.10,
        "SEC-HLTH": 0.05,
        "SEC-DEVA": 0.15,
        "SEC-JAPN": 0.10,
        "SEC-EMKT": 0.10,
        "SEC-TIPS": 0.15,
        "SEC-SHRT": 0.15,
    },
}
BAND_HALF_WIDTH = 0.05


@dataclasses.dataclass(frozen=True)
class Market:
    """Securities and their closes over every session of the book."""

    securities: pl.DataFrame  # security master rows incl. a later row for a symbol change
    sessions: list[dt.date]
    closes: np.ndarray  # [session, security] in the order of ``security_ids``
    security_ids: list[str]
    split_day: dt.date
    symbol_change_day: dt.date

    def column(self, security_id: str) -> int:
        return self.security_ids.index(security_id)

    def closes_on(self, day: dt.date) -> pl.DataFrame:
        row = self.closes[self.sessions.index(day)]
        return pl.DataFrame({"security_id": self.security_ids, "close": row})

    def symbols_on(self, day: dt.date) -> pl.DataFrame:
        """security_id -> symbol in force on ``day``."""
        return (
            self.securities.filter(pl.col("effective_from") <= day)
            .sort("effective_from")
            .group_by("security_id", maintain_order=True)
            .last()
            .select("security_id", "symbol")
            .sort("security_id")
        )


def security_master() -> pl.DataFrame:
    """The securities as of ``MASTER_EFFECTIVE_FROM``, before any symbol change."""
    return pl.DataFrame(
        [row[:7] for row in _SECURITIES],
        schema=[
            "security_id",
            "symbol",
            "asset_class",
            "sector",
            "rating",
            "round_lot",
            "identical_group",
        ],
        orient="row",
    ).with_columns(
        average_daily_volume=pl.col("asset_class").replace_strict(CLASS_DAILY_VOLUME)
        * pl.col("rating")
        // 5,
        effective_from=pl.lit(MASTER_EFFECTIVE_FROM),
    )


def first_closes() -> np.ndarray:
    """Each security's close on the first session, in ``_SECURITIES`` order."""
    return np.array([row[7] for row in _SECURITIES])


def build_market(rng: np.random.Generator, sessions: list[dt.date], first_drop: int) -> Market:
    """Security master and closes; the split and symbol change fall inside the drop days."""
    drop_days = len(sessions) - first_drop
    split_day = sessions[first_drop + drop_days // 2]
    symbol_change_day = sessions[first_drop + (2 * drop_days) // 3]
    master = security_master()
    renamed = master.filter(pl.col("security_id") == SYMBOL_CHANGE[0]).with_columns(
        symbol=pl.lit(SYMBOL_CHANGE[2]), effective_from=pl.lit(symbol_change_day)
    )
    securities = pl.concat([master, renamed]).sort("security_id", "effective_from")
    security_ids = [row[0] for row in _SECURITIES]
    closes = _price_paths(rng, sessions, sessions.index(split_day))
    return Market(securities, sessions, closes, security_ids, split_day, symbol_change_day)


def _price_paths(rng: np.random.Generator, sessions: list[dt.date], split_index: int) -> np.ndarray:
    """Geometric random walks per asset class, rounded to cents, never unchanged a day.

    Daily moves stay far inside the 25% jump threshold; a close that would round to the
    previous one moves by a cent, so a stale price is always an injected fault.
    """
    drift = np.array([CLASS_DYNAMICS[row[2]][0] for row in _SECURITIES]) / 252
    vol = np.array([CLASS_DYNAMICS[row[2]][1] for row in _SECURITIES]) / np.sqrt(252)
    shocks = np.clip(rng.standard_normal((len(sessions), len(_SECURITIES))), -4, 4)
    log_returns = drift - vol**2 / 2 + vol * shocks
    log_returns[0] = 0.0
    raw = first_closes() * np.exp(np.cumsum(log_returns, axis=0))
    split_column = [row[0] for row in _SECURITIES].index(SPLIT_SECURITY[0])
    raw[split_index:, split_column] /= SPLIT_SECURITY[1]
    return to_cents(raw)


def to_cents(raw: np.ndarray) -> np.ndarray:
    """Closes (sessions x securities) rounded to cents, a close that would round to the
    previous one moved by a cent (an unchanged close is a stale-price fault)."""
    closes = np.round(raw, 2)
    for day in range(1, closes.shape[0]):
        unchanged = closes[day] == closes[day - 1]
        closes[day, unchanged] += 0.01
    return closes


def model_targets() -> pl.DataFrame:
    rows = [(m, s, w) for m, weights in MODELS.items() for s, w in weights.items()]
    return pl.DataFrame(
        rows, schema=["model_id", "security_id", "target_weight"], orient="row"
    ).sort("model_id", "security_id")


def class_targets(securities: pl.DataFrame) -> pl.DataFrame:
    """Per model and asset class: the sum of the model's target weights (``target``)."""
    classes = securities.select("security_id", "asset_class").unique()
    return (
        model_targets()
        .join(classes, on="security_id")
        .group_by("model_id", "asset_class")
        .agg(target=pl.col("target_weight").sum())
    )


def model_bands(securities: pl.DataFrame) -> pl.DataFrame:
    """Per model and asset class: the class target +- BAND_HALF_WIDTH."""
    return (
        class_targets(securities)
        .with_columns(
            min_weight=(pl.col("target") - BAND_HALF_WIDTH).clip(0, 1).round(4),
            max_weight=(pl.col("target") + BAND_HALF_WIDTH).clip(0, 1).round(4),
        )
        .drop("target")
        .sort("model_id", "asset_class")
    )
