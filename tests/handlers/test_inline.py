"""Inline mode through the real Application: `@Bot eth long 5x` answered with the grade."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from handlers.inline import INLINE_TTL_S, MAX_CACHED, InlineAnswers
from settings import Settings
from signals.live import PRICE_TTL_S
from tests.helpers.fake_botapi import MAX_TEXT, FakeBotAPI, FakeChat, FakeUser
from tests.helpers.telegram import BotHarness, bot_settings


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI()
    fake.inline_mode = True  # BotFather's /setinline
    yield fake
    assert fake.failures == []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(api: FakeBotAPI, settings: Settings, clock: Clock) -> AsyncIterator[BotHarness]:
    async with BotHarness(api, settings) as harness:
        harness.app.bot_data.inline = InlineAnswers(clock=clock)
        yield harness


async def ask(bot: BotHarness, user: FakeUser, text: str) -> str:
    """The user types `@PreflightTestBot text`; return the query id once it is answered."""
    query_id = bot.api.inline_query(user, text)
    await bot.process_next()
    return query_id


def count_checks(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every idea the service grades from here on (its words)."""
    service = bot.app.bot_data.service
    real = service.check
    graded: list[str] = []

    async def counting(idea: Any, defaults: Any = None) -> Any:
        graded.append(idea.words())
        return await real(idea, defaults)

    monkeypatch.setattr(service, "check", counting)
    return graded


async def test_an_idea_is_answered_with_its_verdict_line_and_the_compact_reply(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser, dm: FakeChat
) -> None:
    query_id = await ask(bot, alice, "eth long 5x")

    [article] = api.inline_results(query_id)
    assert (article.id, article.title) == ("long", "REDUCE · ETH long 5x")
    assert article.description == (
        "2 of 4 flags in caution · liquidation $2,584.05, 19.50% away · tap to share the grade"
    )
    await bot.send(dm, alice, "/check ETH long 5x")
    checked = api.bot_messages(dm)[-1]
    assert article.text == checked.text  # the compact reply, as /check shows it
    assert article.text.splitlines()[0].startswith(article.title + " — ")
    assert article.html == checked.html
    answer = api.inline_answers[query_id]
    assert (answer["cache_time"], answer["is_personal"]) == (int(INLINE_TTL_S), True)


async def test_an_idea_without_a_side_offers_each_side(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    query_id = await ask(bot, alice, "$sol")

    articles = api.inline_results(query_id)
    assert [(a.id, a.title) for a in articles] == [
        ("long", "WAIT · SOL long 1x (no leverage given)"),
        ("short", "PROCEED · SOL short 1x (no leverage given)"),
    ]
    assert [a.text.splitlines()[0].split(" — ")[0] for a in articles] == [
        a.title for a in articles
    ]


@pytest.mark.parametrize(
    ("query", "description"),
    [
        ("", "An asset, a side and a leverage, e.g. btc short 10x @ 95k stop 97k"),
        ("   ", "An asset, a side and a leverage, e.g. btc short 10x @ 95k stop 97k"),
        ("eth long 5", "'5' alone means nothing: write 5x for leverage or @ 5"),
        ("eth lnog 5x", "Can't read 'lnog': did you mean long?"),
        (
            "ethh long 5x",
            "ETHH is not in the demo snapshot (synthetic data), demo_snapshot.json of "
            "2026-05-20 00:00 UTC. Did you mean ETH?",
        ),
    ],
)
async def test_an_empty_or_unreadable_query_offers_one_help_article(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser, query: str, description: str
) -> None:
    query_id = await ask(bot, alice, query)

    [article] = api.inline_results(query_id)
    assert (article.id, article.title) == ("help", "Type an idea: eth long 5x")
    assert article.description == description
    assert article.text.startswith("Preflight grades a leveraged crypto trade idea")
    assert "@PreflightTestBot eth long 5x" in article.text
    assert api.inline_answers[query_id]["cache_time"] == 0


async def test_answers_are_kept_for_the_datas_ttl(
    bot: BotHarness,
    api: FakeBotAPI,
    alice: FakeUser,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bob = api.user("Bob")
    graded = count_checks(bot, monkeypatch)

    first = await ask(bot, alice, "eth long 5x")
    clock.now += 20
    again = await ask(bot, bob, "ETH LONG 5X")  # the same idea, another user, no defaults
    clock.now += INLINE_TTL_S
    later = await ask(bot, alice, "eth long 5x")

    assert graded == ["$ETH long 5x", "$ETH long 5x"]  # the second from the cache
    cache_times = [api.inline_answers[q]["cache_time"] for q in (first, again, later)]
    assert cache_times == [60, 40, 60]
    assert api.inline_results(again) == api.inline_results(first)
    assert INLINE_TTL_S == PRICE_TTL_S  # as long as the live prices are cached


async def test_the_askers_public_settings_complete_the_idea_and_nothing_private(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser, dm: FakeChat
) -> None:
    await bot.send(dm, alice, "/settings leverage 10 account 10k risk 1% tz Asia/Tokyo")

    query_id = await ask(bot, alice, "eth long")

    [article] = api.inline_results(query_id)
    assert article.title == "REDUCE · ETH long 10x (from your /settings)"
    assert "$10,000" not in article.text and "Size" not in article.text  # no account shown
    assert article.text.splitlines()[-1] == "Data: synthetic demo data, as of 2026-05-20 00:00 UTC"


async def test_inline_queries_count_against_the_request_budget(
    api: FakeBotAPI, tmp_path: Path, alice: FakeUser
) -> None:
    settings = bot_settings(tmp_path, user_requests_per_minute=3)
    async with BotHarness(api, settings) as bot:
        answered = [await ask(bot, alice, f"btc long {n}x") for n in (2, 3, 4, 5)]

    titles = [api.inline_results(q)[0].title for q in answered]
    assert titles[:3] == [
        "PROCEED · BTC long 2x",
        "PROCEED · BTC long 3x",
        "PROCEED · BTC long 4x",
    ]
    assert titles[3].startswith("Slow down: that's 3 requests a minute, the most I take from one")
    assert api.inline_answers[answered[3]]["cache_time"] == 0


async def test_a_fresh_grade_is_a_check_and_a_cached_one_is_not(
    api: FakeBotAPI, tmp_path: Path, alice: FakeUser
) -> None:
    settings = bot_settings(tmp_path, check_rate_per_minute=2)
    async with BotHarness(api, settings) as bot:
        answered = [await ask(bot, alice, q) for q in ("eth long", "eth long", "btc", "sol")]

    titles = [api.inline_results(q)[0].title for q in answered]
    assert titles[:3] == [
        "REDUCE · ETH long 1x (no leverage given)",
        "REDUCE · ETH long 1x (no leverage given)",  # from the cache: no check
        "PROCEED · BTC long 1x (no leverage given)",  # both sides graded: still one check
    ]
    assert titles[3].startswith("Slow down: that's 2 checks a minute, the most I take from one")


async def test_a_grade_shared_back_into_the_private_chat_is_not_graded_again(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser, dm: FakeChat
) -> None:
    query_id = await ask(bot, alice, "eth long 5x")
    before = len(api.calls)

    shared = api.choose_inline(query_id, "long", dm, alice)
    await bot.process_next()

    assert shared.data["via_bot"]["username"] == "PreflightTestBot"
    assert api.calls[before:] == []  # no reply, no progress message
    assert api.bot_messages(dm) == []


async def test_an_expired_query_is_no_error(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser
) -> None:
    query_id = api.inline_query(alice, "eth long 5x")
    api.age_query(query_id, 60)

    await bot.process_next()

    assert query_id not in api.inline_answers
    [call] = api.calls_of("answerInlineQuery")
    assert call.error is not None and "query is too old" in call.error


# ---- the fake's answerInlineQuery is as strict as Telegram -----------------------------------


def article(n: int, text: str = "<b>REDUCE</b> · ETH long 5x") -> dict[str, Any]:
    return {
        "type": "article",
        "id": f"a{n}",
        "title": "REDUCE · ETH long 5x",
        "input_message_content": {"message_text": text, "parse_mode": "HTML"},
    }


async def answer(api: FakeBotAPI, results: list[dict[str, Any]], **extra: Any) -> str | None:
    user = api.user()
    query_id = api.inline_query(user, "eth")
    raw = {"inline_query_id": query_id, "results": json.dumps(results), "cache_time": "0"}
    raw.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()})
    status, body = await api.call("answerInlineQuery", raw)
    return None if status == 200 else str(body["description"])


@pytest.mark.parametrize(
    ("results", "error"),
    [
        ([article(n) for n in range(50)], None),
        ([article(n) for n in range(51)], "Bad Request: RESULTS_TOO_MUCH"),
        ([article(1), article(1)], "Bad Request: RESULT_ID_DUPLICATE"),
        ([{**article(1), "id": "x" * 65}], "Bad Request: RESULT_ID_INVALID"),
        ([{**article(1), "title": " "}], "Bad Request: RESULT_TITLE_EMPTY"),
        ([article(1, "x" * MAX_TEXT)], None),
        ([article(1, "x" * (MAX_TEXT + 1))], "Bad Request: MESSAGE_TOO_LONG"),
        ([article(1, "<b>x</b>" + "😀" * 2047)], None),  # 1 + 2 × 2047 = 4095 UTF-16 units
        ([article(1, "😀" * 2049)], "Bad Request: MESSAGE_TOO_LONG"),
        ([article(1, "<b>")], "can't parse entities"),
        ([article(1, "1 < 2")], "can't parse entities"),
        ([article(1, "")], "Bad Request: MESSAGE_EMPTY"),
    ],
)
async def test_the_fake_refuses_what_telegram_refuses(
    results: list[dict[str, Any]], error: str | None
) -> None:
    api = FakeBotAPI()
    api.inline_mode = True

    refused = await answer(api, results)

    if error is None:
        assert refused is None
    else:
        assert refused is not None and error in refused
    assert api.failures == []


async def test_the_fake_fails_a_test_that_leaves_cache_time_to_telegram() -> None:
    api = FakeBotAPI()
    api.inline_mode = True
    query_id = api.inline_query(api.user(), "eth")
    raw = {"inline_query_id": query_id, "results": json.dumps([article(1)])}

    await api.call("answerInlineQuery", raw)

    assert api.failures == ["answerInlineQuery without cache_time (Telegram caches 300 s)"]


async def test_the_fake_sends_inline_queries_only_to_bots_with_inline_mode_on() -> None:
    api = FakeBotAPI()

    api.inline_query(api.user(), "eth")

    assert api.failures == ["an inline query to a bot whose inline mode is off"]


def test_inline_answers_expire_and_forget_the_oldest_past_their_bound() -> None:
    clock = Clock()
    answers = InlineAnswers(clock=clock)
    answers.put(("$ETH long", None), ())
    clock.now += INLINE_TTL_S - 0.5
    assert answers.get(("$ETH long", None)) is None  # under a second left: asked again

    for n in range(MAX_CACHED + 1):
        answers.put((f"$ETH long {n}x", None), ())
    assert answers.get(("$ETH long 0x", None)) is None
    assert answers.get(("$ETH long 1x", None)) == ((), int(INLINE_TTL_S))


async def test_start_up_says_how_to_switch_inline_mode_on_when_it_is_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeBotAPI()  # BotFather's /setinline not sent: getMe says no inline queries
    with caplog.at_level("INFO", logger="handlers"):
        async with BotHarness(api, bot_settings(tmp_path)):
            pass

    assert "inline mode is off: send /setinline to @BotFather" in caplog.text
    assert api.failures == []


@pytest.mark.parametrize(
    "query",
    [
        "<b>eth</b> long 5x",
        "eth long 5x <script>alert(1)</script>",
        '&amp; &lt; & < > "',
        "eth long 5x " + "🚀" * 120,
        "\u202eeth long 5x",
        "a" * 256,
        "/check eth long 5x",
        "@PreflightTestBot eth long 5x",
        "eth long 5x @ 0",
        "eth long 126x",
        "ETH/USDT LONG\nLeverage: Cross 5x\nEntry: 3000 - 3050\nStop Loss: 2900",
        "\x00\x01 eth",
    ],
)
async def test_hostile_queries_get_a_valid_answer(
    bot: BotHarness, api: FakeBotAPI, alice: FakeUser, query: str
) -> None:
    query_id = await ask(bot, alice, query)

    articles = api.inline_results(query_id)  # the fake parsed every message's HTML
    assert 1 <= len(articles) <= 2
    assert all(a.title and len(a.text) <= MAX_TEXT for a in articles)
