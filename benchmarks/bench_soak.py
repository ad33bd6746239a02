"""Memory of the real `python bot.py`: idle with live markets loaded, and over 10,000 checks.

The bot runs as its own process, exactly as deployed: `python bot.py`, long-polling a fake
Telegram Bot API (in this process, on 127.0.0.1) and reading the market from the fake venues
(ANOTHER process, `benchmarks/_harness.py`: 600 perpetuals per venue, 100 assets with data,
Deribit books of ~1,000 options, 20 ms per answer) through PREFLIGHT_VENUE_BASE_URL. Its
per-user limits and the send pacer are set out of the way so the soak measures the bot, not
Telegram's 30 messages a second.

Prints the bot process's resident memory (RSS, /proc) against the goals:
- idle, after start-up with the markets of four venues loaded — goal ≤ 150 MB;
- at start, after 1,000 and after 10,000 checks spread over 100 assets (300 users, each
  check a message answered through the whole bot; the venue caches expire and refill on the
  way) — goal: flat within 10 MB after warm-up (the first 1,000 checks);
and the checks per second it sustained.

    python benchmarks/bench_soak.py [--checks 10000] [--assets 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import ROOT, VenueProcess, verdict
from tests.helpers.fake_botapi import DEFAULT_TOKEN, FakeBotAPI
from tests.helpers.venues.scenario import FIRST_ASSETS

GOAL_IDLE_MB = 150.0
GOAL_FLAT_MB = 10.0
IN_FLIGHT = 300  # checks outstanding at once, one per user (Telegram paces ~1 a second per chat)


def rss_of(pid: int) -> float:
    """Resident memory of process `pid` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bot_env(api: FakeBotAPI, venues: VenueProcess, tmp: Path) -> dict[str, str]:
    """The environment of the bot process: the fakes, a fresh store, limits out of the way."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "PREFLIGHT_")) and "PROXY" not in k.upper()
    }
    env.update(
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_BASE_URL=api.base_url,
        PREFLIGHT_VENUE_BASE_URL=venues.base_url,
        PREFLIGHT_STORE_PATH=str(tmp / "preflight.sqlite"),
        PREFLIGHT_COLLECT_LIQUIDATIONS="false",
        PREFLIGHT_CHECK_RATE_PER_MINUTE="1000000",
        PREFLIGHT_USER_REQUESTS_PER_MINUTE="1000000",
        PREFLIGHT_BROADCAST_PER_SECOND="100000",
        PREFLIGHT_BROADCAST_PER_GROUP_MINUTE="100000",
        PREFLIGHT_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


class CountingBotAPI(FakeBotAPI):
    """The fake Bot API, counting answered checks as they come (each one edits its progress
    message into the result) instead of scanning every call so far."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = 0
        self.failed = 0
        edit = self.methods["editMessageText"]

        async def counted(api: FakeBotAPI, params: dict[str, Any]) -> Any:
            result = await edit(api, params)
            self.answered += 1
            if "failed on my side" in str(params.get("text", "")):
                self.failed += 1
            return result

        self.methods["editMessageText"] = counted


async def soak(checks: int, assets: int, marks: tuple[int, ...]) -> dict[str, Any]:
    """Run the bot, measure idle, then `checks` checks; RSS at each mark."""
    api = CountingBotAPI()
    await api.start()
    names = [*FIRST_ASSETS, *(f"C{i:03d}" for i in range(assets - len(FIRST_ASSETS)))][:assets]
    with tempfile.TemporaryDirectory() as tmp, VenueProcess(20, data_assets=assets) as venues:
        bot = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py")],
            cwd=tmp,
            env=bot_env(api, venues, Path(tmp)),
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await api.wait_for(lambda: api.commands or bot.poll() is not None, timeout=60)
            if bot.poll() is not None:
                raise SystemExit(f"the bot did not start: {bot.stderr.read()[-2000:]}")
            await asyncio.sleep(2.0)  # start-up settles (the first poll, the GC)
            rss = {"idle": rss_of(bot.pid)}
            users = [api.user(f"U{i}") for i in range(IN_FLIGHT)]
            chats = [api.private_chat(u) for u in users]
            started = time.monotonic()
            sent = 0
            for mark in marks:
                while sent < mark:
                    wave = min(IN_FLIGHT, mark - sent)
                    for k in range(wave):
                        n = sent + k
                        asset = names[n % len(names)]
                        api.user_message(chats[k], users[k], f"/check {asset} long 5x")
                    sent += wave
                    await api.wait_for(lambda s=sent: api.answered >= s, timeout=120)
                rss[mark] = rss_of(bot.pid)
            elapsed = time.monotonic() - started
            failed = api.failed
        finally:
            bot.terminate()
            try:
                bot.wait(timeout=15)
            except subprocess.TimeoutExpired:
                bot.kill()
    await api.close()
    return {"rss": rss, "rate": checks / elapsed, "failed": failed, "failures": api.failures}


def main() -> int:
    """Print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--assets", type=int, default=100)
    args = parser.parse_args()
    warm = min(1_000, args.checks)
    marks = tuple(sorted({warm, args.checks}))
    r = asyncio.run(soak(args.checks, args.assets, marks))
    rss = r["rss"]
    idle_ok = rss["idle"] <= GOAL_IDLE_MB
    grew = rss[args.checks] - rss[warm]
    flat_ok = grew <= GOAL_FLAT_MB
    print(
        f"python bot.py against fake venues (another process) and a fake Bot API; "
        f"{args.checks:,} checks over {args.assets} assets"
    )
    print(
        f"idle RSS, markets loaded: {rss['idle']:.0f} MB (goal ≤ {GOAL_IDLE_MB:.0f} MB) = "
        f"{rss['idle'] / GOAL_IDLE_MB:.2f} of the goal  {verdict(idle_ok)}"
    )
    for mark in marks:
        print(f"RSS after {mark:>6,} checks: {rss[mark]:.0f} MB")
    print(
        f"growth from {warm:,} to {args.checks:,} checks: {grew:+.1f} MB "
        f"(goal ≤ {GOAL_FLAT_MB:.0f} MB)  {verdict(flat_ok)}"
    )
    print(f"{r['rate']:.0f} checks/s; {r['failed']} answered 'failed on my side'")
    if r["failures"]:
        print(f"fake Bot API failures: {r['failures'][:3]}")
    return 0 if idle_ok and flat_ok and not r["failed"] and not r["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
