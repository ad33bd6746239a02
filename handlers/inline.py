"""Inline mode: `@Bot eth long 5x` in any chat answers with the grade, ready to share.

Each graded side is one article: its title is the verdict line ("REDUCE · ETH long 5x"),
its description the flag count and the liquidation, and the message it sends is the
compact reply. An empty query, or one that is no idea, gets one help article ("Type an
idea: eth long 5x", with the reason in its description).

- Shared where anyone reads it, so the idea is completed only from the asker's public
  /settings (leverage and horizon, as in a group); times are in UTC.
- Answers live as long as the data they rest on (INLINE_TTL_S, the live prices' TTL):
  kept here for that long for everyone asking the same idea with the same defaults, and
  given to Telegram as `cache_time` for what is left of it (`is_personal`, as the defaults
  are the asker's).
- Every inline query is a request (the budget gate counts it, as it counts a button); an
  idea graded afresh is a check (the check limit), one answered from the cache is not.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.error import BadRequest

from handlers.common import check_limited
from handlers.context import Context
from handlers.settings import defaults_for
from signals.defaults import UserDefaults
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.idea import TradeIdea, parse_idea
from templates import render, render_check

log = logging.getLogger(__name__)

# how long an answer is good for: the shortest TTL of the live data a grade rests on (that
# is signals.live.PRICE_TTL_S, not imported here: it would load ccxt with the handlers)
INLINE_TTL_S = 60.0
MAX_CACHED = 2_000
HELP_ID = "help"


@dataclass(frozen=True)
class Article:
    """One inline result, as rendered: what the list shows and the message it sends."""

    id: str
    title: str
    description: str
    message_html: str


@dataclass(frozen=True)
class _Cached:
    articles: tuple[Article, ...]
    expires_at: float


class InlineAnswers:
    """Answers by (idea words, defaults), for INLINE_TTL_S each (bounded, oldest out)."""

    def __init__(
        self, ttl_s: float = INLINE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.hits = 0
        self._answers: OrderedDict[tuple[str, UserDefaults | None], _Cached] = OrderedDict()

    def get(self, key: tuple[str, UserDefaults | None]) -> tuple[tuple[Article, ...], int] | None:
        """The cached articles and the whole seconds they stay good, or None."""
        held = self._answers.get(key)
        if held is None:
            return None
        left = held.expires_at - self.clock()
        if left < 1:
            del self._answers[key]
            return None
        self.hits += 1
        return held.articles, int(left)

    def put(self, key: tuple[str, UserDefaults | None], articles: tuple[Article, ...]) -> int:
        """Keep the articles for the TTL; return it in whole seconds (the cache_time)."""
        self._answers[key] = _Cached(articles, self.clock() + self.ttl_s)
        self._answers.move_to_end(key)
        while len(self._answers) > MAX_CACHED:
            self._answers.popitem(last=False)
        return int(self.ttl_s)


async def inline_query(update: Update, context: Context) -> None:
    """Answer `@Bot <idea>`: one article per graded side, or the help article."""
    query = update.inline_query
    assert query is not None
    words = " ".join(query.query.split())
    username = context.bot.username
    if not words:
        await answer_articles(update, (help_article(username, None),), 0)
        return
    try:
        idea = parse_idea(words)
    except ParseError as e:
        await answer_articles(update, (help_article(username, e.reason),), 0)
        return
    found = await defaults_for(update, context, query.from_user.id)
    # shared wherever it is sent: only what a group may read (leverage, horizon)
    defaults = found.public() if found is not None else None
    key = (idea.words(), defaults)
    answers = context.bot_data.inline
    cached = answers.get(key)
    if cached is not None:
        await answer_articles(update, *cached)
        return
    wait_s = check_limited(context, query.from_user.id)
    if wait_s is not None:
        await answer_articles(update, (limited_article(context, username, wait_s),), 0)
        return
    try:
        articles = await grade_articles(context, idea, defaults)
    except PreflightError as e:
        await answer_articles(update, (help_article(username, _first_line(e)),), 0)
        return
    await answer_articles(update, articles, answers.put(key, articles))


async def grade_articles(
    context: Context, idea: TradeIdea, defaults: UserDefaults | None
) -> tuple[Article, ...]:
    """Grade each side of the idea and render it as an article (long first)."""
    service = context.bot_data.service
    articles = []
    for side in idea.sides():
        result = await service.check(replace(idea, side=side), defaults)
        articles.append(side_article(context, result))
    return tuple(articles)


def side_article(context: Context, result: CheckResult) -> Article:
    """The article of a one-sided result: the verdict line over the compact reply."""
    [grade] = result.grades
    idea = result.idea if result.idea is not None else TradeIdea(result.asset, grade.side)
    th = context.bot_data.settings.thresholds
    return Article(
        id=grade.side,
        title=render("inline", "text", kind="title", r=result, g=grade, idea=idea),
        description=render("inline", "text", kind="description", r=result, g=grade),
        message_html=render_check(result, "html", th),
    )


def help_article(username: str | None, reason: str | None) -> Article:
    """The one article of an empty or unreadable query (the reason in its description)."""
    return Article(
        id=HELP_ID,
        title=render("inline", "text", kind="help_title"),
        description=render("inline", "text", kind="help_description", reason=reason),
        message_html=render("inline", kind="help_message", username=username),
    )


def limited_article(context: Context, username: str | None, wait_s: int) -> Article:
    """Past the check limit: the one wording of limits, in an article's title."""
    per_minute = context.bot_data.settings.check_rate_per_minute
    text = render("rate_limited", "text", what="check", per_minute=per_minute, wait_s=wait_s)
    return replace(help_article(username, None), title=text)


def over_budget_article(username: str | None, text: str) -> Article:
    """Past the request budget (the gate's answer to an inline query)."""
    return replace(help_article(username, None), title=text)


async def answer_articles(update: Update, articles: Sequence[Article], cache_time: int) -> None:
    """Answer the inline query (personal: the defaults are the asker's); one that expired
    meanwhile is no error."""
    query = update.inline_query
    assert query is not None
    results = [
        InlineQueryResultArticle(
            id=a.id,
            title=a.title,
            description=a.description,
            input_message_content=InputTextMessageContent(a.message_html),
        )
        for a in articles
    ]
    try:
        await query.answer(results, cache_time=cache_time, is_personal=True)
    except BadRequest as e:
        if "query is too old" not in str(e).lower():
            raise
        log.info("inline query %s expired before it was answered", query.id)


def _first_line(error: PreflightError) -> str:
    return render("problem", "text", error=error).splitlines()[0]
