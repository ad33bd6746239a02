"""Buttons under a result: Refresh and Flip (re-grade in place), Subscribe; their data format.

Button data (Telegram allows 64 bytes) carries everything needed, so buttons survive
restarts: `kind:owner:ASSET:rest`. The asset travels as its own field — a ticker that is a
grammar word (ME, THE, OPEN, A, IN…) is never re-read as one — and the rest of the idea in
trade-idea words. `owner` is the asker's user id (base 36): in a group only they may
rewrite their result; anyone else pressing gets their own answer in a short popup. Data of
the older formats (`r:ETH long 5x`) is still read.

To add a button kind: pick an unused prefix, build it with `button_data`, read it with
`read_button`, and add its CallbackQueryHandler to the wiring table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers.common import answer_quietly, check_limited, edit_in_place, is_group, problem
from handlers.context import Context
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.idea import Side, TradeIdea, parse_idea
from templates import render, render_check, render_market

log = logging.getLogger(__name__)

# callback_data prefixes
REFRESH, FLIP, MARKET_REFRESH, SUBSCRIBE, ALERT_CHECK = "r:", "f:", "m:", "s:", "ac:"
MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit
_ASSET = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ButtonData:
    """What a button carries: its kind (prefix), who asked, the asset, and the rest."""

    kind: str
    asset: str
    rest: str = ""
    owner: int | None = None


def button_data(kind: str, asset: str, rest: str = "", owner: int | None = None) -> str:
    """Encode a button's data: `kind` + `owner:ASSET:rest` (subscribe: just the asset)."""
    if kind == SUBSCRIBE:
        return f"{kind}{asset}"
    return f"{kind}{_b36(owner)}:{asset}:{rest}"


def read_button(data: str) -> ButtonData | None:
    """Decode a button's data (this format or an older one); None when unreadable."""
    kind = next(
        (k for k in (ALERT_CHECK, REFRESH, FLIP, MARKET_REFRESH, SUBSCRIBE) if data.startswith(k)),
        None,
    )
    if kind is None:
        return None
    body = data[len(kind) :]
    if kind == SUBSCRIBE:
        return ButtonData(kind, body) if _ASSET.fullmatch(body) else None
    parts = body.split(":", 2)
    if len(parts) == 3:
        owner, asset, rest = parts
        if not _ASSET.fullmatch(asset):
            return None
        return ButtonData(kind, asset, rest, _from_b36(owner))
    return _read_older(kind, body)


def _read_older(kind: str, body: str) -> ButtonData | None:
    """`r:ETH long 5x`, `m:ETH`, `ac:ETH long`: idea words, asset first, no owner."""
    if kind == MARKET_REFRESH:
        return ButtonData(kind, body) if _ASSET.fullmatch(body) else None
    try:
        idea = parse_idea(body)
    except ParseError:
        return None
    words = idea_words(idea).split(" ", 1)
    return ButtonData(kind, idea.asset, words[1] if len(words) > 1 else "")


def idea_of(button: ButtonData) -> TradeIdea:
    """The trade idea a button carries; ParseError when its words no longer read."""
    idea = parse_idea(f"${button.asset} {button.rest}".strip())
    return idea if idea.asset == button.asset else replace(idea, asset=button.asset)


def idea_words(idea: TradeIdea) -> str:
    """The idea in trade-idea words `parse_idea` reads back to the same idea (`$` + asset)."""
    words = [f"${idea.asset}"]
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


def _rest_words(idea: TradeIdea) -> str:
    return idea_words(idea).partition(" ")[2]


def _number(value: float) -> str:
    """The shortest exact decimal, never in exponent form (the idea grammar has none)."""
    return format(Decimal(repr(value)).normalize(), "f")


def _b36(owner: int | None) -> str:
    if owner is None or owner <= 0:
        return ""
    digits = ""
    while owner:
        owner, d = divmod(owner, 36)
        digits = _B36[d] + digits
    return digits


def _from_b36(text: str) -> int | None:
    if not text or any(c not in _B36 for c in text):
        return None
    return int(text, 36)


def flipped(idea: TradeIdea) -> TradeIdea:
    """The same idea on the other side (the stop does not carry over: it would sit wrong)."""
    side: Side = "short" if idea.side == "long" else "long"
    return replace(idea, side=side, stop=None)


def _button(label_kind: str, data: str, **ctx: str) -> InlineKeyboardButton | None:
    if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
        return None  # an idea too long to carry in a button just gets no button
    return InlineKeyboardButton(
        render("button", "text", kind=label_kind, **ctx), callback_data=data
    )


def check_keyboard(idea: TradeIdea, owner: int | None = None) -> InlineKeyboardMarkup | None:
    """Refresh, Flip (for a one-sided idea) and Subscribe to the asset's stress warnings."""
    rest = _rest_words(idea)
    row = [_button("refresh", button_data(REFRESH, idea.asset, rest, owner))]
    if idea.side:
        other = "short" if idea.side == "long" else "long"
        row.append(_button("flip", button_data(FLIP, idea.asset, rest, owner), side=other))
    row.append(_button("subscribe", button_data(SUBSCRIBE, idea.asset), asset=idea.asset))
    buttons = [b for b in row if b is not None]
    return InlineKeyboardMarkup([buttons]) if buttons else None


def market_keyboard(asset: str, owner: int | None = None) -> InlineKeyboardMarkup | None:
    """Refresh for the market dashboard, and Subscribe to the asset's stress warnings."""
    row = [_button("refresh", button_data(MARKET_REFRESH, asset, "", owner))]
    row.append(_button("subscribe", button_data(SUBSCRIBE, asset), asset=asset))
    buttons = [b for b in row if b is not None]
    return InlineKeyboardMarkup([buttons]) if buttons else None


async def refresh_check(update: Update, context: Context) -> None:
    """Re-grade the idea under the button and edit the result in place."""
    await _regrade(update, context, flip=False)


async def flip_check(update: Update, context: Context) -> None:
    """Grade the other side of the idea under the button, in place."""
    await _regrade(update, context, flip=True)


async def _regrade(update: Update, context: Context, flip: bool) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    button = read_button(query.data)
    try:
        if button is None:
            raise ParseError("unreadable button", "")
        idea = idea_of(button)
    except ParseError:
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    if flip:
        idea = flipped(idea)
    thresholds = context.bot_data.settings.thresholds
    await _regrade_in_place(
        update,
        context,
        button,
        lambda: context.bot_data.service.check(idea),
        lambda r: (render_check(r, "html", thresholds), check_keyboard(idea, button.owner)),
    )


async def refresh_market(update: Update, context: Context) -> None:
    """Reload the market dashboard under the button, in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    button = read_button(query.data)
    if button is None:
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    await _regrade_in_place(
        update,
        context,
        button,
        lambda: context.bot_data.service.market(button.asset),
        lambda r: (render_market(r), market_keyboard(button.asset, button.owner)),
    )


async def _regrade_in_place(
    update: Update,
    context: Context,
    button: ButtonData,
    grade: Callable[[], Awaitable[CheckResult]],
    reply: Callable[[CheckResult], tuple[str, InlineKeyboardMarkup | None]],
) -> None:
    """Grade again; the asker's message is edited in place, anyone else gets a popup."""
    query = update.callback_query
    assert query is not None
    if not await _within_limit(update, context):
        return
    try:
        result = await grade()
    except PreflightError as e:
        await answer_quietly(query, problem(e, "text"), show_alert=True)
        return
    if not _may_rewrite(update, button):
        await answer_quietly(
            query, render("button", "text", kind="popup", r=result), show_alert=True
        )
        return
    changed = await edit_in_place(query, *reply(result))
    await answer_quietly(
        query, render("notice", "text", kind="updated" if changed else "unchanged")
    )


def _may_rewrite(update: Update, button: ButtonData) -> bool:
    """Only the person who asked rewrites a result in a group (anyone in a private chat)."""
    query = update.callback_query
    assert query is not None
    if not is_group(update):
        return True
    owner = button.owner
    if owner is None:
        # an older button: the result quotes the asker's message, when it still exists
        message = query.message
        asked = message.reply_to_message if isinstance(message, Message) else None
        owner = asked.from_user.id if asked is not None and asked.from_user else None
    return owner is None or owner == query.from_user.id


async def _within_limit(update: Update, context: Context) -> bool:
    query = update.callback_query
    assert query is not None
    if query.message is None or not query.message.is_accessible:
        # Telegram no longer lets the bot see (or edit) that message
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return False
    wait_s = check_limited(context, query.from_user.id)
    if wait_s is None:
        return True
    text = render(
        "notice",
        "text",
        kind="rate_limited",
        per_minute=context.bot_data.settings.check_rate_per_minute,
        wait_s=wait_s,
    )
    await answer_quietly(query, text, show_alert=True)
    return False


async def outdated_button(update: Update, context: Context) -> None:
    """A button no handler reads (an older version's): say so, so the client stops spinning."""
    query = update.callback_query
    assert query is not None
    await answer_quietly(query, render("notice", "text", kind="outdated_button"))


def query_chat(query: CallbackQuery) -> tuple[int, int | None]:
    """The chat and forum topic a button was pressed in."""
    message = query.message
    if message is None:
        return query.from_user.id, None
    if isinstance(message, Message):
        return message.chat.id, message.message_thread_id if message.is_topic_message else None
    return message.chat.id, None  # too old to read: its chat is still known
