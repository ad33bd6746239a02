"""The long-history fake venues (tests/helpers/venues/history.py) as their own process, for the
real `python bot.py backtest` and `record --history` to talk to.

    python -m tests.helpers.venues.history_server [--now-ms MS] [--days N] [--faults FILE]
        [--log FILE] [--latency-ms MS]

Serves ETH (and BTC) with `--days` of daily history to now (the wall clock, or `--now-ms`) on
an ephemeral 127.0.0.1 port, prints `listening on http://127.0.0.1:PORT` and runs until
SIGTERM/SIGINT. `--log FILE` appends one `venue path` line per request it receives (what a
test counts); `--faults` takes the JSON fault list of tests/helpers/venues/server.py;
`--latency-ms` delays every answer like a distant venue (benchmarks/bench_history.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.helpers.venues.history import HistoryServer, long_asset
from tests.helpers.venues.scenario import default_scenario
from tests.helpers.venues.server import load_faults


class LoggedHistoryServer(HistoryServer):
    """HistoryServer that writes every request it receives to a file, as it arrives."""

    def __init__(self, log_path: Path | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log_path = log_path

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(f"{request.match_info['host']} /{request.match_info['path']}\n")
        return await super()._handle(request)


async def serve(args: argparse.Namespace) -> None:
    """Serve until a termination signal arrives."""
    now = args.now_ms if args.now_ms is not None else int(time.time() * 1000)
    assets = {
        "ETH": long_asset(now, args.days, seed=7, price=3000.0),
        "BTC": long_asset(now, args.days, seed=11, price=60000.0),
    }
    server = LoggedHistoryServer(
        Path(args.log) if args.log else None,
        scenario=default_scenario(now),
        assets=assets,
        latency_s=args.latency_ms / 1000,
    )
    for venue, path, fault in load_faults(args.faults):
        server.fail(venue, fault, path=path)
    await server.start()
    print(f"listening on {server.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--now-ms", type=int, default=None)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--faults")
    parser.add_argument("--log")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
