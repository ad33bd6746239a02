"""Buttons under a result: Refresh (re-grade in place), Flip side, and Subscribe (hidden)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from handlers.common import answer_quietly, edit_in_place, rate_limited, service, settings
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.idea import Side, TradeIdea, parse_idea
from templates import render, render_check, render_market

log = logging.getLogger(__name__)

# Issue 6 (warnings) wires Subscribe: flip this on and register a handler for SUBSCRIBE.

# callback_data prefixes; the rest is the idea in SPEC §8 words, so buttons survive restarts.
REFRESH, FLIP, MARKET_REFRESH, SUBSCRIBE = "r:", "f:", "m:", "s:"
MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit


def idea_words(idea: TradeIdea) -> str:
    """The idea in canonical trade-idea words that `parse_idea` reads back to the same idea."""
    words = [idea.asset]
    if idea.side:
        words.append(idea.side)
    if idea.leverage_given:
        words.append(f"{_number(idea.leverage)}x")
    if idea.entry is not None:
        words.append(f"@ {_number(idea.entry)}")
    if idea.stop is not None:
        words.append(f"stop {_number(idea.stop)}")
    if idea.horizon_days is not None:
        words.append(f"for {_number(idea.horizon_days * 24)}h")
    return " ".join(words)


def _number(value: float) -> str:
    """The shortest exact decimal, never in exponent form (the idea grammar has none)."""
    return format(Decimal(repr(value)).normalize(), "f")


def flipped(idea: TradeIdea) -> TradeIdea:
    """The same idea on the other side (the stop does not carry over: it would sit wrong)."""
    side: Side = "short" if idea.side == "long" else "long"
    return TradeIdea(
        asset=idea.asset,
        side=side,
        leverage=idea.leverage,
        leverage_given=idea.leverage_given,
        entry=idea.entry,
        stop=None,
        horizon_days=idea.horizon_days,
    )


def _button(kind: str, data: str, **ctx: str) -> InlineKeyboardButton | None:
    if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
        return None  # an idea too long to carry in a button just gets no button
    return InlineKeyboardButton(render("button", "text", kind=kind, **ctx), callback_data=data)


def check_keyboard(idea: TradeIdea) -> InlineKeyboardMarkup | None:
    """Refresh, Flip (for a one-sided idea) and Subscribe to the asset's stress warnings."""
    words = idea_words(idea)
    row = [_button("refresh", REFRESH + words)]
    if idea.side:
        row.append(_button("flip", FLIP + words, side="short" if idea.side == "long" else "long"))
    row.append(_button("subscribe", SUBSCRIBE + idea.asset, asset=idea.asset))
    buttons = [b for b in row if b is not None]
    return InlineKeyboardMarkup([buttons]) if buttons else None


def market_keyboard(asset: str) -> InlineKeyboardMarkup | None:
    """Refresh for the market dashboard, and Subscribe to the asset's stress warnings."""
    row = [_button("refresh", MARKET_REFRESH + asset)]
    row.append(_button("subscribe", SUBSCRIBE + asset, asset=asset))
    buttons = [b for b in row if b is not None]
    return InlineKeyboardMarkup([buttons]) if buttons else None


async def refresh_check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Re-grade the idea under the button and edit the result in place."""
    await _regrade(update, context, flip=False)


async def flip_check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Grade the other side of the idea under the button, in place."""
    await _regrade(update, context, flip=True)


async def _regrade(update: Update, context: ContextTypes.DEFAULT_TYPE, flip: bool) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    try:
        idea = parse_idea(query.data[2:])
    except ParseError:
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    if flip:
        idea = flipped(idea)
    await _regrade_in_place(
        update,
        context,
        lambda: service(context).check(idea),
        lambda r: (render_check(r, "html", settings(context).thresholds), check_keyboard(idea)),
    )


async def refresh_market(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reload the market dashboard under the button, in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    asset = query.data[2:]
    await _regrade_in_place(
        update,
        context,
        lambda: service(context).market(asset),
        lambda r: (render_market(r), market_keyboard(asset)),
    )


async def _regrade_in_place(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    grade: Callable[[], Awaitable[CheckResult]],
    reply: Callable[[CheckResult], tuple[str, InlineKeyboardMarkup | None]],
) -> None:
    """Grade again, edit the button's message into the reply and say whether it changed."""
    query = update.callback_query
    assert query is not None
    if not await _within_limit(update, context):
        return
    try:
        result = await grade()
    except PreflightError as e:
        await answer_quietly(query, render("problem", "text", error=e)[:200], show_alert=True)
        return
    changed = await edit_in_place(query, *reply(result))
    await answer_quietly(
        query, render("notice", "text", kind="updated" if changed else "unchanged")
    )


async def _within_limit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    query = update.callback_query
    assert query is not None
    if query.message is None or not query.message.is_accessible:
        # Telegram no longer lets the bot see (or edit) that message
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return False
    wait_s = rate_limited(context, query.from_user.id)
    if wait_s is None:
        return True
    text = render(
        "notice",
        "text",
        kind="rate_limited",
        per_minute=settings(context).check_rate_per_minute,
        wait_s=wait_s,
    )
    await answer_quietly(query, text, show_alert=True)
    return False


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the button handlers."""
    app.add_handler(CallbackQueryHandler(refresh_check, pattern=f"^{REFRESH}"))
    app.add_handler(CallbackQueryHandler(flip_check, pattern=f"^{FLIP}"))
    app.add_handler(CallbackQueryHandler(refresh_market, pattern=f"^{MARKET_REFRESH}"))
