"""What the fake venues know: the scenario (assets, prices, OI, funding, options) and the
helpers every venue's fake builds its answers from. Shared by tests/helpers/venues/*."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# 2026-05-20 12:30 UTC: half-way through an hourly bar, so a forming candle exists
DEFAULT_NOW_MS = 1_779_280_200_000

SERVICE_UNAVAILABLE = "<html><body><h1>503 Service Unavailable</h1></body></html>"

HOST_VENUE = {
    "fapi.binance.com": "binanceusdm",
    "fstream.binance.com": "binanceusdm",  # its websockets (the all-market liquidation stream)
    "api.bybit.com": "bybit",
    "www.okx.com": "okx",
    "www.deribit.com": "deribit",
}
OKX_CONTRACT_VALUE = 0.1  # base coins per OKX swap contract in the fake
# venues value their OI at their own mark price, a little off the candle close; distinct
# factors let a test tell "the venue's USD figure" from "amount × close"
BINANCE_OI_MARK = 1.0005
OKX_OI_MARK = 0.9995


@dataclass
class FundingSpec:
    """One venue's funding for one asset: current rate, interval, settled history (old → new)."""

    rate: float = 0.0001
    interval_hours: int = 8
    history: list[float] = field(default_factory=lambda: [0.0001] * 12)


@dataclass
class OptionSpec:
    """One listed option: expiry, strike, call/put, mark IV in vol points, forward price."""

    expiry_ms: int
    strike: float
    is_call: bool
    iv: float
    forward: float


@dataclass
class AssetScenario:
    """What the fake venues know about one asset."""

    hourly_closes: list[float]
    daily_closes: list[float]
    venues: tuple[str, ...] = ("binanceusdm", "bybit", "okx")
    oi_base: dict[str, float] = field(
        default_factory=lambda: {"binanceusdm": 1000.0, "bybit": 500.0, "okx": 250.0}
    )
    funding: dict[str, FundingSpec] = field(default_factory=dict)
    options: list[OptionSpec] = field(default_factory=list)
    # venues listing the options: "deribit", "okx", "bybit"
    option_venues: tuple[str, ...] = ("deribit",)
    bybit_mmr: float | None = 0.005
    # venue → how many OI points (per timeframe) it has; default: as many as candles
    oi_history_len: dict[str, int] = field(default_factory=dict)

    def funding_for(self, venue: str) -> FundingSpec:
        """This venue's funding spec (a default one when the scenario gives none)."""
        return self.funding.setdefault(venue, FundingSpec())


@dataclass
class Scenario:
    """The whole fake market at one moment."""

    assets: dict[str, AssetScenario]
    now_ms: int = DEFAULT_NOW_MS
    # extra USDT perpetual bases listed (markets only, no data), for close-match tests
    extra_bases: tuple[str, ...] = ()
    # currency → recorded Deribit option rows served as the whole book (tests/fixtures/deribit)
    deribit_books: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def hour_start(self) -> int:
        """Open time of the forming hourly bar."""
        return self.now_ms - self.now_ms % HOUR_MS

    @property
    def day_start(self) -> int:
        """Open time of the forming daily bar."""
        return self.now_ms - self.now_ms % DAY_MS


@dataclass
class Fault:
    """A canned failure at the HTTP layer: status + body (+ headers), or a delay (a hang)."""

    status: int = 200
    body: str = ""
    delay_s: float = 0.0
    content_type: str = "application/json"
    times: int | None = None  # None: every request; N: the next N requests
    headers: dict[str, str] = field(default_factory=dict)  # e.g. {"Retry-After": "60"}


def default_scenario(now_ms: int = DEFAULT_NOW_MS, with_options: bool = True) -> Scenario:
    """ETH and BTC on all three venues with gently rising prices; ETH options on Deribit."""
    eth = AssetScenario(
        hourly_closes=[3000.0 + i for i in range(200)],
        daily_closes=[2500.0 + 5 * i for i in range(120)],
    )
    btc = AssetScenario(
        hourly_closes=[60000.0 + 10 * i for i in range(200)],
        daily_closes=[50000.0 + 50 * i for i in range(120)],
        options=[],
    )
    if with_options:
        eth.options = smile_options(now_ms, forward=3199.0)
    return Scenario(assets={"ETH": eth, "BTC": btc}, now_ms=now_ms)


def smile_options(now_ms: int, forward: float) -> list[OptionSpec]:
    """Two expiries (7 and 60 days) with a put skew: puts richer than calls."""
    result: list[OptionSpec] = []
    for days in (7, 60):
        expiry = _expiry_at_8utc(now_ms + days * DAY_MS)
        for k in range(50, 151, 5):
            strike = forward * k / 100
            # vol points: 60 at the money, richer below the forward
            iv = 60.0 + (100 - k) * 0.2 if k < 100 else 60.0 + (k - 100) * 0.05
            result.append(OptionSpec(expiry, round(strike, 2), True, iv, forward))
            result.append(OptionSpec(expiry, round(strike, 2), False, iv, forward))
    return result


def _expiry_at_8utc(ms: int) -> int:
    day = ms - ms % DAY_MS
    return day + 8 * HOUR_MS


# ---- candles and series -----------------------------------------------------------------


def candles(closes: list[float], forming_open: int, bar_ms: int) -> list[list[float]]:
    """Closed candles ending at `forming_open`, then the forming one: [ts, o, h, l, c, v]."""
    n = len(closes)
    rows: list[list[float]] = []
    prev = closes[0]
    for i, close in enumerate([*closes, closes[-1]]):
        ts = forming_open - (n - i) * bar_ms
        rows.append([ts, prev, max(prev, close) * 1.001, min(prev, close) * 0.999, close, 1000.0])
        prev = close
    return rows


def close_at(asset: AssetScenario, ts: int, sc: Scenario, bar_ms: int) -> float | None:
    """Close of the bar that ends at `ts`."""
    closes = asset.hourly_closes if bar_ms == HOUR_MS else asset.daily_closes
    forming = sc.hour_start if bar_ms == HOUR_MS else sc.day_start
    index = len(closes) - 1 - (forming - ts) // bar_ms
    if (forming - ts) % bar_ms or not 0 <= index < len(closes):
        return None
    return closes[index]


def oi_points(
    asset: AssetScenario, sc: Scenario, bar_ms: int, limit: int, venue: str
) -> list[int]:
    """Timestamps of OI points, ascending: bar boundaries up to the forming bar's open."""
    closes = asset.hourly_closes if bar_ms == HOUR_MS else asset.daily_closes
    forming = sc.hour_start if bar_ms == HOUR_MS else sc.day_start
    count = min(limit, len(closes), asset.oi_history_len.get(venue, len(closes)))
    return [forming - k * bar_ms for k in range(count - 1, -1, -1)]


def bar_ms_of(period: str) -> int:
    return DAY_MS if period.lower() in ("1d", "d") else HOUR_MS


def asset_by_id(sc: Scenario, market_id: str, venue: str) -> tuple[str, AssetScenario] | None:
    for base, asset in sc.assets.items():
        if venue in asset.venues and market_id in (
            f"{base}USDT",
            f"{base}-USDT-SWAP",
        ):
            return base, asset
    return None


def limit_of(query: dict[str, str], default: int) -> int:
    return int(query.get("limit", default))


def settlement_times(sc: Scenario, spec: FundingSpec) -> list[int]:
    step = spec.interval_hours * HOUR_MS
    last = sc.now_ms - sc.now_ms % step
    n = len(spec.history)
    return [last - (n - 1 - i) * step for i in range(n)]


def dmy_name(prefix: str, o: OptionSpec, decimal: str = ".") -> str:
    d = datetime.fromtimestamp(o.expiry_ms / 1000, tz=UTC)
    return (
        f"{prefix}-{d.day}{d:%b%y}".upper()
        + f"-{strike_text(o.strike, decimal)}-{'C' if o.is_call else 'P'}"
    )


def strike_text(strike: float, decimal: str) -> str:
    text = f"{strike:.10g}"
    return text.replace(".", decimal)


# ---- realistic sizes (the benchmarks' fake venues) --------------------------------------

# Deribit lists ~12 expiries of BTC and ETH options (dailies, weeklies, monthlies,
# quarterlies) with ~40 strikes each: a book summary of about 1,000 rows per currency
CHAIN_EXPIRY_DAYS = (1, 2, 3, 7, 14, 21, 28, 56, 84, 112, 175, 266)
# assets with listed options in `realistic_scenario` (BTC, ETH inverse; SOL, XRP on USDC)
OPTION_ASSETS = ("BTC", "ETH", "SOL", "XRP")
# the asset with no options on any venue: its skew is unknown, never a proxy
NO_OPTIONS_ASSET = "DOGE"
FIRST_ASSETS = ("BTC", "ETH", "SOL", "XRP", "DOGE")


def chain_options(now_ms: int, forward: float, strikes: int = 40) -> list[OptionSpec]:
    """A realistic chain: 12 expiries × `strikes` strikes × call and put, with a put skew."""
    result: list[OptionSpec] = []
    for days in CHAIN_EXPIRY_DAYS:
        expiry = _expiry_at_8utc(now_ms + days * DAY_MS)
        # wider strike ranges for longer expiries, as on the venues
        width = min(0.9, 0.12 + 0.08 * days**0.5)
        for i in range(strikes):
            k = 1.0 - width + 2 * width * i / (strikes - 1)
            strike = _round_strike(forward * k)
            iv = 55.0 + (1.0 - k) * 25.0 if k < 1.0 else 55.0 + (k - 1.0) * 8.0
            result.append(OptionSpec(expiry, strike, True, round(iv, 2), forward))
            result.append(OptionSpec(expiry, strike, False, round(iv, 2), forward))
    return result


def _round_strike(value: float) -> float:
    if value >= 10_000:
        return float(round(value / 500) * 500)
    if value >= 1_000:
        return float(round(value / 25) * 25)
    if value >= 10:
        return float(round(value))
    return round(value, 2)


def realistic_scenario(
    now_ms: int = DEFAULT_NOW_MS, data_assets: int = 100, perps: int = 600
) -> Scenario:
    """Venues at realistic sizes: `perps` USDT perpetuals listed per venue, `data_assets` of
    them with full data (BTC, ETH, SOL, XRP, DOGE first, then synthetic coins), a Deribit
    book of ~1,000 options for BTC and for ETH and ~1,000 USDC options (SOL, XRP), and DOGE
    with no options anywhere."""
    assets: dict[str, AssetScenario] = {}
    names = list(FIRST_ASSETS) + [f"C{i:03d}" for i in range(max(0, data_assets - 5))]
    for n, base in enumerate(names[:data_assets]):
        level = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0, "XRP": 2.0, "DOGE": 0.2}.get(
            base, 1.0 + n
        )
        step = level / 3000.0
        asset = AssetScenario(
            hourly_closes=[level + step * i for i in range(200)],
            daily_closes=[level * 0.8 + step * 5 * i for i in range(120)],
        )
        if base in OPTION_ASSETS:
            inverse = base in ("BTC", "ETH")
            asset.options = chain_options(
                now_ms, forward=asset.hourly_closes[-1], strikes=40 if inverse else 20
            )
            asset.option_venues = ("deribit", "okx", "bybit") if inverse else ("deribit",)
        else:
            asset.option_venues = ()
        assets[base] = asset
    extra = tuple(f"X{i:03d}" for i in range(max(0, perps - len(assets))))
    return Scenario(assets=assets, now_ms=now_ms, extra_bases=extra)
