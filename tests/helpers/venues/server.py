"""The fake venues as their own process, for the real `python bot.py check` to talk to.

    python -m tests.helpers.venues.server [--faults FILE] [--now-ms MS]
        [--latency-ms MS] [--realistic [--data-assets N] [--perps N]]

Serves the default scenario (ETH and BTC on Binance, Bybit and OKX, ETH options on Deribit)
— or with `--realistic` the venues at their real sizes (600 perpetuals per venue, 100 of
them with data, Deribit books of ~1,000 options; `realistic_scenario`) — at the wall clock's
now (or `--now-ms`) on an ephemeral 127.0.0.1 port, each answer held `--latency-ms`; prints
`listening on http://127.0.0.1:PORT` and runs until SIGTERM/SIGINT. `--faults` is a JSON
list of HTTP-layer faults: `[{"venue": "okx", "path": "/instruments", "status": 503,
"body": "<html>…", "content_type": "text/html", "delay_s": 0, "headers": {…}}]`.
Point Preflight at it with PREFLIGHT_VENUE_BASE_URL=http://127.0.0.1:PORT.
`GET /_fake/stats` answers the requests and TCP connections seen so far (per venue and
path); `GET /_fake/reset` forgets them (the benchmarks count one check at a time);
`GET /_fake/latency?ms=150` changes the latency of every later answer;
`GET /_fake/faults?spec=<JSON fault list>` replaces the faults (`[]` heals every venue).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tests.helpers.fake_exchange import FakeExchangeServer
from tests.helpers.venues.scenario import Fault, Scenario, default_scenario, realistic_scenario


def load_faults(path: str | None) -> list[tuple[str, str | None, Fault]]:
    """(venue, path suffix or None, fault) from a JSON fault file."""
    if not path:
        return []
    return faults_from(json.loads(Path(path).read_text(encoding="utf-8")))


def faults_from(entries: list[dict[str, Any]]) -> list[tuple[str, str | None, Fault]]:
    """(venue, path suffix or None, fault) from a JSON fault list."""
    result = []
    for entry in entries:
        fault = Fault(
            status=int(entry.get("status", 200)),
            body=str(entry.get("body", "")),
            delay_s=float(entry.get("delay_s", 0.0)),
            content_type=str(entry.get("content_type", "application/json")),
            headers={str(k): str(v) for k, v in (entry.get("headers") or {}).items()},
        )
        result.append((str(entry["venue"]), entry.get("path"), fault))
    return result


async def serve(
    faults: list[tuple[str, str | None, Fault]],
    now_ms: int,
    scenario: Scenario | None = None,
    latency_s: float = 0.0,
) -> None:
    """Serve until a termination signal arrives."""
    server = FakeExchangeServer(scenario or default_scenario(now_ms), latency_s=latency_s)
    for venue, path, fault in faults:
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
    parser.add_argument("--faults")
    parser.add_argument("--now-ms", type=int, default=None)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--realistic", action="store_true")
    parser.add_argument("--data-assets", type=int, default=100)
    parser.add_argument("--perps", type=int, default=600)
    args = parser.parse_args(argv)
    now_ms = args.now_ms if args.now_ms is not None else int(time.time() * 1000)
    scenario = (
        realistic_scenario(now_ms, data_assets=args.data_assets, perps=args.perps)
        if args.realistic
        else None
    )
    asyncio.run(serve(load_faults(args.faults), now_ms, scenario, args.latency_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
