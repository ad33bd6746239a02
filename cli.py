"""Command line: `check` (grade an idea), `record` (state → snapshot), `collect`, `backtest`.

Imports are narrow and late: `--help` and a bad command line load no pandas, no ccxt; the
engine and the venues are imported by the command that needs them.
"""

from __future__ import annotations

import difflib
import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

import templates
from settings import Settings, SettingsError, load_settings
from signals.errors import NoMarketData, ParseError, PreflightError, SnapshotError, UnknownAsset

if TYPE_CHECKING:
    from signals.backtest_args import BacktestArgs
    from signals.live_history import LiveHistory
    from signals.service import CheckService

EXIT_OK, EXIT_BAD_INPUT, EXIT_NO_DATA = 0, 2, 3
ONE_SHOT = ("check", "record")


@dataclass
class CliArgs:
    """Sub-command arguments: free words plus the few options."""

    command: str
    words: list[str] = field(default_factory=list)
    snapshot: str | None = None
    demo: bool = False
    as_json: bool = False
    details: bool = False
    out: str | None = None
    # `record --history [--days N]`: a long-history snapshot for `backtest --snapshot`
    history: bool = False
    days: str | None = None


class UsageError(Exception):
    """The command line itself is wrong."""


def parse_args(argv: list[str]) -> CliArgs:
    """Split options from idea words; words may contain anything, even '-5' or '@'."""
    if not argv:
        raise UsageError("no command given")
    if argv[0] in ("-h", "--help", "help"):
        raise UsageError("help")
    args = CliArgs(command=argv[0])
    rest = iter(argv[1:])
    for word in rest:
        if word in ("--snapshot", "--out", "--days"):
            value = next(rest, None)
            if value is None:
                raise UsageError(f"{word} needs a {'number' if word == '--days' else 'file path'}")
            setattr(args, word[2:], value)
        elif word.startswith(("--snapshot=", "--out=", "--days=")):
            name, _, value = word[2:].partition("=")
            setattr(args, name, value)
        elif word == "--demo":
            args.demo = True
        elif word == "--json":
            args.as_json = True
        elif word == "--details":
            args.details = True
        elif word == "--history":
            args.history = True
        elif word in ("-h", "--help"):
            raise UsageError("help")
        elif word.startswith("--"):
            raise UsageError(_unknown_option(word))
        else:
            args.words.append(word)
    if args.snapshot and args.demo:
        raise UsageError("use either --snapshot FILE or --demo, not both")
    if args.as_json and args.details:
        raise UsageError("use either --json or --details, not both")
    if (args.history or args.days is not None) and args.command != "record":
        raise UsageError("--history and --days belong to record (record ETH --history --out F)")
    if args.days is not None and not args.history:
        raise UsageError("--days goes with --history (record ETH --history --days 365 --out F)")
    return args


_OPTIONS = (
    "--snapshot",
    "--demo",
    "--json",
    "--details",
    "--out",
    "--help",
    "--history",
    "--days",
)


def _unknown_option(word: str) -> str:
    """`--josn` → "unknown option --josn: did you mean --json?"."""
    name = word.split("=", 1)[0]
    close = difflib.get_close_matches(name, _OPTIONS, n=1, cutoff=0.6)
    hint = f": did you mean {close[0]}?" if close else ""
    return f"unknown option {name}{hint}"


def main(argv: list[str], stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one CLI command; return its exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    for stream in (out, err):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
    if argv[:1] == ["backtest"]:
        # SPEC §9: backtest reads its own options (signals/backtest_args.py)
        return _backtest(argv[1:], out, err)
    try:
        args = parse_args(argv)
    except UsageError as e:
        wanted = str(e) == "help"
        usage = templates.render("cli", "text", what="usage", problem="" if wanted else str(e))
        print(usage, file=out if wanted else err)
        return EXIT_OK if str(e) == "help" else EXIT_BAD_INPUT
    try:
        settings = load_settings()
    except SettingsError as e:
        print(templates.render("problem", "text", error=e), file=err)
        return EXIT_BAD_INPUT
    # SPEC §7: a one-shot command prints only its answer or its one-line problem, never log
    # records (a venue down is named in the answer itself); `collect` runs on and logs
    if args.command in ONE_SHOT:
        logging.basicConfig(handlers=[logging.NullHandler()], level=logging.CRITICAL + 1)
    else:
        logging.basicConfig(
            level=settings.log_level, stream=err, format="%(levelname)s %(name)s: %(message)s"
        )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    import asyncio

    if args.command == "check":
        try:
            return asyncio.run(_check(args, settings, out, err))
        except BrokenPipeError:  # `… | head` closed the pipe: the reader has what it wanted
            return EXIT_OK
    if args.command == "record" and args.history:
        return asyncio.run(_record_history(args, settings, out, err))
    if args.command == "record":
        return asyncio.run(_record(args, settings, out, err))
    if args.command == "collect":
        from signals.collector import collect_main

        return asyncio.run(collect_main(settings, [a.upper() for a in args.words]))
    problem = f"unknown command {args.command!r}"
    print(templates.render("cli", "text", what="usage", problem=problem), file=err)
    return EXIT_BAD_INPUT


def _service(args: CliArgs, settings: Settings) -> CheckService:
    from signals.service import CheckService, SnapshotSource
    from signals.snapshot import DEMO_PATH

    if args.demo or args.snapshot:
        return CheckService(settings, source=SnapshotSource(args.snapshot or DEMO_PATH))
    return CheckService(settings)


def _problem_line(error: PreflightError) -> str:
    """The user-facing problem text on one line, for stderr, with the CLI's own syntax."""
    return templates.render("problem", "text", error=error, where="cli").replace("\n", " ")


def _exit_for(error: PreflightError) -> int:
    if isinstance(error, NoMarketData | UnknownAsset):
        return EXIT_NO_DATA
    return EXIT_BAD_INPUT


async def _check(args: CliArgs, settings: Settings, out: TextIO, err: TextIO) -> int:
    from signals.idea import parse_idea

    try:
        idea = parse_idea(" ".join(args.words))
    except ParseError as e:
        print(_problem_line(e), file=err)
        return EXIT_BAD_INPUT
    service = _service(args, settings)
    if service.store_problem is not None:  # a damaged or foreign store: said, then graded
        line = templates.render("cli", "text", what="store_unusable", error=service.store_problem)
        print(line.strip(), file=err)
    try:
        await service.start(wait_for_markets=False)  # the check's budget covers markets
        # bad input the data reveals (an entry far from the price, a stop on the wrong side
        # of it) is a ParseError too: exit 2
        result = await service.check(idea)
        # the answer first: closing the venues' connections lingers a quarter second
        th = settings.thresholds
        if args.as_json:
            print(templates.check_json_text(result, th), file=out, flush=True)
        else:
            now = templates.wall_clock_ms()
            text = templates.render_check(result, "text", th, now=now, details=args.details)
            print(text, file=out, flush=True)
    except (SnapshotError, NoMarketData, UnknownAsset, ParseError) as e:
        print(_problem_line(e), file=err)
        return _exit_for(e)
    finally:
        await service.close()
    return EXIT_OK


async def _record(args: CliArgs, settings: Settings, out: TextIO, err: TextIO) -> int:
    from signals.snapshot import write_snapshot

    if not args.out:
        problem = "record needs --out FILE"
        print(templates.render("cli", "text", what="usage", problem=problem), file=err)
        return EXIT_BAD_INPUT
    assets = [a.upper().lstrip("$") for a in args.words] or list(settings.summary_assets)
    service = _service(args, settings)
    recorded = {}
    asof = 0
    try:
        await service.start(wait_for_markets=False)  # the check's budget covers markets
        for asset in assets:
            try:
                fetched_asof, data = await service.asset_state(asset)
            except (NoMarketData, UnknownAsset) as e:
                print(_problem_line(e), file=err)
                continue
            recorded[asset] = data
            asof = max(asof, fetched_asof)
    finally:
        await service.close()
    if not recorded:
        return EXIT_NO_DATA
    write_snapshot(args.out, asof, recorded)
    done = templates.render(
        "cli", "text", what="recorded", assets=list(recorded), asof=asof, path=args.out
    )
    print(done, file=out)
    return EXIT_OK


async def _record_history(args: CliArgs, settings: Settings, out: TextIO, err: TextIO) -> int:
    """`record ASSETS --history --out FILE`: the long history a live `backtest` reads, as a
    snapshot `backtest --snapshot FILE` replays to the same report (gzip for a .gz name)."""
    from signals.backtest import DEFAULT_DAYS, BacktestRequest, lookback_days
    from signals.backtest_args import MAX_DAYS
    from signals.history import write_history_snapshot

    if not args.out:
        problem = "record needs --out FILE"
        print(templates.render("cli", "text", what="usage", problem=problem), file=err)
        return EXIT_BAD_INPUT
    try:
        days = int(args.days) if args.days is not None else DEFAULT_DAYS
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        problem = f"--days needs a whole number of days from 1 to {MAX_DAYS}, not {args.days!r}"
        print(templates.render("cli", "text", what="usage", problem=problem), file=err)
        return EXIT_BAD_INPUT
    assets = [a.upper().lstrip("$") for a in args.words] or list(settings.summary_assets)
    live = _live_history(settings, err)
    recorded = {}
    asof = 0
    requests = 0
    try:
        for asset in assets:
            request = BacktestRequest(asset=asset, days=days)
            bar = ProgressBar(err, asset) if _is_terminal(err) else None
            try:
                history = await live.history(
                    asset, lookback_days(request, settings.thresholds), bar
                )
            except (NoMarketData, UnknownAsset) as e:
                print(_problem_line(e), file=err)
                continue
            finally:
                if bar is not None:
                    bar.finish()
            requests += live.last_report.total
            recorded[asset] = history.data
            asof = history.asof
    finally:
        await _close_live(live)
    if not recorded:
        return EXIT_NO_DATA
    try:
        write_history_snapshot(args.out, asof, recorded)
    except OSError as e:
        problem = f"cannot write {args.out}: {e.strerror or e.__class__.__name__}"
        print(templates.render("cli", "text", what="usage", problem=problem), file=err)
        return EXIT_BAD_INPUT
    done = templates.render(
        "cli",
        "text",
        what="recorded_history",
        assets=list(recorded),
        asof=asof,
        path=args.out,
        days=days,
        requests=requests,
    )
    print(done, file=out)
    return EXIT_OK


def _backtest(words: list[str], out: TextIO, err: TextIO) -> int:
    """SPEC §9: grade an asset once a day on a long history and report what followed."""
    from signals.backtest_args import parse_backtest_words

    if any(w in ("-h", "--help") for w in words):
        print(templates.render("cli", "text", what="usage", problem=""), file=out)
        return EXIT_OK
    try:
        parsed = parse_backtest_words(words)
        settings = load_settings()
    except ParseError as e:
        print(_problem_line(e), file=err)
        return EXIT_BAD_INPUT
    except SettingsError as e:
        print(templates.render("problem", "text", error=e), file=err)
        return EXIT_BAD_INPUT
    # a one-shot command prints its answer or its one-line problem, never log records (a venue
    # that failed is named in the report itself)
    logging.basicConfig(handlers=[logging.NullHandler()], level=logging.CRITICAL + 1)
    import asyncio

    try:
        return asyncio.run(_run_backtest(parsed, settings, out, err))
    except BrokenPipeError:  # `… | head` closed the pipe: the reader has what it wanted
        return EXIT_OK


async def _run_backtest(parsed: BacktestArgs, settings: Settings, out: TextIO, err: TextIO) -> int:
    """Load the history, run the backtest, print the report (and draw the chart)."""
    import asyncio

    from signals.backtest import NotEnoughHistory, lookback_days, report_json_text, run_backtest
    from signals.backtest_args import check_leverage
    from signals.history import HistorySource, SnapshotHistory, demo_history

    def say(what: str, **ctx: object) -> None:
        print(templates.render("backtest", "text", what=what, **ctx), file=err)

    live: LiveHistory | None = None
    source: HistorySource
    if parsed.demo:
        source, origin = demo_history(), "the demo"
    elif parsed.snapshot:
        source, origin = SnapshotHistory(parsed.snapshot), f"snapshot {parsed.snapshot}"
    else:
        live = _live_history(settings, err)
        source, origin = live, "the venues"
    request, th = parsed.request, settings.thresholds
    bar = ProgressBar(err, request.asset) if live is not None and _is_terminal(err) else None
    try:
        history = await source.history(request.asset, lookback_days(request, th), bar)
        check_leverage(request, history.data.mmr)
        report = await asyncio.to_thread(run_backtest, history, request, th)
    except (SnapshotError, ParseError) as e:
        print(_problem_line(e), file=err)
        return EXIT_BAD_INPUT
    except UnknownAsset as e:
        if live is None:  # not in the file: say which assets it holds
            say("unknown_asset", error=e, origin=origin)
        else:
            print(_problem_line(e), file=err)
        return EXIT_NO_DATA
    except NoMarketData as e:
        print(_problem_line(e), file=err)
        return EXIT_NO_DATA
    except NotEnoughHistory as e:
        say("not_enough_history", error=e, origin=origin, asof=history.asof)
        return EXIT_NO_DATA
    finally:
        if bar is not None:
            bar.finish()
        if live is not None:
            await _close_live(live)
    if live is not None and parsed.as_json:
        # the JSON keeps SPEC §9's shape; the text report says this in its history lines
        say("requests", requests=live.last_report.requests)
    if parsed.chart:
        from signals.backtest_chart import write_chart

        try:
            write_chart(report, parsed.chart)
        except OSError as e:
            say("chart_failed", path=parsed.chart, reason=e.strerror or e.__class__.__name__)
            return EXIT_BAD_INPUT
    if parsed.as_json:
        print(report_json_text(report, label=parsed.demo), file=out)
    else:
        text = templates.render("backtest", "text", what="report", r=report, chart=parsed.chart)
        print(text, file=out)
    return EXIT_OK


def _live_history(settings: Settings, err: TextIO) -> LiveHistory:
    """The venues' history, cached in the store (a store that cannot be opened: one warning,
    and a throwaway cache for this run)."""
    from signals.live_history import LiveHistory
    from signals.store import Store, StoreError

    try:
        store: Store | None = Store(settings.store_path)
    except StoreError as e:
        print(f"preflight: {e} (history not cached this run)", file=err)
        store = None
    return LiveHistory(settings, store)


async def _close_live(live: LiveHistory) -> None:
    import asyncio

    await live.aclose()
    await asyncio.to_thread(live.store.close)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class ProgressBar:
    """The history load's progress on stderr, redrawn in place (only on a terminal)."""

    MIN_REDRAW_S = 0.1

    def __init__(self, stream: TextIO, asset: str) -> None:
        self.stream = stream
        self.asset = asset
        self._drawn = 0.0
        self._width = 0
        self._shown = False

    def __call__(self, done: int, total: int, venue: str) -> None:
        """Redraw the bar (at most ten times a second, and always at the end)."""
        import time

        now = time.monotonic()
        if done < total and now - self._drawn < self.MIN_REDRAW_S:
            return
        self._drawn = now
        line = templates.render(
            "backtest",
            "text",
            what="progress",
            asset=self.asset,
            done=done,
            total=total,
            venue=venue,
        )
        pad = max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._shown = True

    def finish(self) -> None:
        """End the bar's line, so what follows starts on its own."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
