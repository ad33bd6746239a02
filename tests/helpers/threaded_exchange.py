"""The loopback fake exchange served from its own thread, for code that runs `asyncio.run`.

`cli.main` starts and ends its own event loop, so the fake venues cannot share it: they get a
background loop here, and ccxt inside the CLI's loop talks to them over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from tests.helpers.fake_exchange import FakeExchangeServer, Scenario

START_TIMEOUT_S = 5.0


@contextlib.contextmanager
def serve_in_thread(scenario: Scenario) -> Iterator[FakeExchangeServer]:
    """A started FakeExchangeServer on a background event loop; stopped on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-exchange", daemon=True)
    thread.start()
    server = FakeExchangeServer(scenario)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(START_TIMEOUT_S)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT_S)
        loop.close()
