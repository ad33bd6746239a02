"""Buttons under a result: Details / Less (expand and fold in place), Refresh and Flip
(re-grade in place), Subscribe; and their data format.

Button data (Telegram allows 64 bytes) carries everything needed, so buttons survive
restarts: `kind:owner[.view]:ASSET:rest`.

- `owner` is the asker's user id (base 36): in a group only they may rewrite, expand or
  fold their result; anyone else pressing Refresh or Flip gets their own answer in a popup,
  Details or Less a short "only the asker" popup.
- `view` says what the message shows: `f` the other side of the idea (Flip), `d` the details.
  Every button of one message carries the same view; a press changes one part of it.
- the asset travels as its own field — a ticker that is a grammar word (ME, THE, OPEN, A,
  IN…) is never re-read as one — and `rest` is the rest of the idea as typed, in
  `TradeIdea.words()` (targets, ranges, risk, account, margin mode: a Refresh keeps them).
  Flip grades the other side without the stop and targets (they would sit on the wrong
  side) and flips back to the idea as typed, stop and targets included.
- an idea too long for 64 bytes travels as `~ref`: its words are kept in the store under a
  10-character reference (`UserData.remember_idea`), the same reference for the same idea.

Data of the older formats (`r:ETH long 5x`, `r:owner:ETH:long 5x`) is still read.

To add a button kind: pick an unused prefix, build it with `button_data`, read it with
`read_button`, and add its CallbackQueryHandler to the wiring table.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers.common import (
    answer_quietly,
    check_limited,
    edit_in_place,
    is_group,
    problem,
    slow_down,
)
from handlers.context import Context
from handlers.settings import defaults_for, read_store
from signals.defaults import UserDefaults
from signals.errors import ParseError, PreflightError
from signals.grade import CheckResult
from signals.idea import Side, TradeIdea, parse_idea
from signals.store import StoreError
from templates import render, render_check, render_market, wall_clock_ms

log = logging.getLogger(__name__)

# callback_data prefixes
REFRESH, FLIP, MARKET_REFRESH, SUBSCRIBE, ALERT_CHECK = "r:", "f:", "m:", "s:", "ac:"
DETAILS, LESS = "d:", "l:"
CHECK_KINDS = (REFRESH, FLIP, DETAILS, LESS)
MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit
# what a message shows, in the `view` part of its buttons' data
SHOWS_FLIPPED, SHOWS_DETAILS = "f", "d"
REF_MARK = "~"
_ASSET = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")
_REF = re.compile(r"~[a-z2-7]{10}")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ButtonData:
    """What a button carries: its kind (prefix), who asked, the asset, the rest, the view."""

    kind: str
    asset: str
    rest: str = ""
    owner: int | None = None
    view: str = ""

    @property
    def ref(self) -> str | None:
        """The store reference of an idea too long for the button, if that is what it holds."""
        return self.rest[1:] if _REF.fullmatch(self.rest) else None


@dataclass(frozen=True)
class CheckView:
    """What a result message shows: the idea as typed, which side, compact or details."""

    idea: TradeIdea
    flipped: bool = False
    details: bool = False

    def graded(self) -> TradeIdea:
        """The idea that is graded for this view: the typed one, or its other side."""
        return flipped(self.idea) if self.flipped and self.idea.side else self.idea

    def left_behind(self) -> tuple[str, ...]:
        """The levels a flip leaves out (`stop`, `targets`): they sit on the typed side."""
        if not (self.flipped and self.idea.side):
            return ()
        named = (("stop", self.idea.stop is not None), ("targets", bool(self.idea.targets)))
        return tuple(name for name, given in named if given)

    @property
    def code(self) -> str:
        """The `view` part of the buttons' data."""
        return (SHOWS_DETAILS if self.details else "") + (SHOWS_FLIPPED if self.flipped else "")

    def after(self, kind: str) -> CheckView:
        """The view a press of `kind` asks for."""
        if kind == FLIP:
            return replace(self, flipped=not self.flipped)
        if kind in (DETAILS, LESS):
            return replace(self, details=kind == DETAILS)
        return self


def button_data(
    kind: str, asset: str, rest: str = "", owner: int | None = None, view: str = ""
) -> str:
    """Encode a button's data: `kind` + `owner[.view]:ASSET:rest` (subscribe: the asset)."""
    if kind == SUBSCRIBE:
        return f"{kind}{asset}"
    return f"{kind}{_b36(owner)}{'.' + view if view else ''}:{asset}:{rest}"


def read_button(data: str) -> ButtonData | None:
    """Decode a button's data (this format or an older one); None when unreadable."""
    kinds = (ALERT_CHECK, *CHECK_KINDS, MARKET_REFRESH, SUBSCRIBE)
    kind = next((k for k in kinds if data.startswith(k)), None)
    if kind is None:
        return None
    body = data[len(kind) :]
    if kind == SUBSCRIBE:
        return ButtonData(kind, body) if _ASSET.fullmatch(body) else None
    parts = body.split(":", 2)
    if len(parts) == 3:
        head, asset, rest = parts
        owner, _, view = head.partition(".")
        if not _ASSET.fullmatch(asset) or not set(view) <= {SHOWS_FLIPPED, SHOWS_DETAILS}:
            return None
        return ButtonData(kind, asset, rest, _from_b36(owner), view)
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


def idea_of(button: ButtonData, words: str | None = None) -> TradeIdea:
    """The trade idea a button carries (`words`: what its reference stands for).

    ParseError when its words no longer read.
    """
    rest = words.partition(" ")[2] if words is not None else button.rest
    idea = parse_idea(f"${button.asset} {rest}".strip())
    return idea if idea.asset == button.asset else replace(idea, asset=button.asset)


def idea_words(idea: TradeIdea) -> str:
    """The idea in trade-idea words `parse_idea` reads back to the same idea (`$` + asset)."""
    return idea.words()


def _rest_words(idea: TradeIdea) -> str:
    return idea_words(idea).partition(" ")[2]


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
    """The same idea on the other side; the stop and targets stay behind (wrong side)."""
    side: Side = "short" if idea.side == "long" else "long"
    return replace(idea, side=side, stop=None, targets=())


# ---- keyboards -------------------------------------------------------------------------------


def _button(label_kind: str, data: str, **ctx: str) -> InlineKeyboardButton | None:
    if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
        return None  # too long to carry: `keyboard_for` passes a reference instead
    return InlineKeyboardButton(
        render("button", "text", kind=label_kind, **ctx), callback_data=data
    )


def check_keyboard(
    idea: TradeIdea | CheckView, owner: int | None = None, ref: str | None = None
) -> InlineKeyboardMarkup | None:
    """Details (or Less), Refresh, Flip (one-sided ideas); then Subscribe to the asset.

    `ref`: the store reference of an idea too long to carry (see `keyboard_for`); without
    one such an idea gets only Subscribe.
    """
    view = idea if isinstance(idea, CheckView) else CheckView(idea)
    typed = view.idea
    rest = REF_MARK + ref if ref is not None else _rest_words(typed)

    def data(kind: str) -> str:
        return button_data(kind, typed.asset, rest, owner, view.code)

    shown_side = view.graded().side
    row = [
        _button("less", data(LESS)) if view.details else _button("details", data(DETAILS)),
        _button("refresh", data(REFRESH)),
    ]
    if shown_side:
        other = "short" if shown_side == "long" else "long"
        row.append(_button("flip", data(FLIP), side=other))
    subscribe = _button("subscribe", button_data(SUBSCRIBE, typed.asset), asset=typed.asset)
    rows = [[b for b in row if b is not None], [b for b in [subscribe] if b is not None]]
    rows = [r for r in rows if r]
    return InlineKeyboardMarkup(rows) if rows else None


def needs_ref(idea: TradeIdea, owner: int | None) -> bool:
    """True when the idea's words would not fit in a button's 64 bytes."""
    view = "".join((SHOWS_DETAILS, SHOWS_FLIPPED))  # the longest view any press can make
    longest = button_data(REFRESH, idea.asset, _rest_words(idea), owner, view)
    return len(longest.encode("utf-8")) > MAX_CALLBACK_DATA


async def keyboard_for(
    context: Context, view: CheckView, owner: int | None, ref: str | None = None
) -> InlineKeyboardMarkup | None:
    """The keyboard of a result; an idea too long for 64 bytes is kept in the store first.

    `ref`: the reference the pressed button already carried for this idea (no write then).
    """
    if not needs_ref(view.idea, owner):
        return check_keyboard(view, owner)
    if ref is not None:
        return check_keyboard(view, owner, ref)
    bd = context.bot_data
    try:
        ref = await bd.store.run(bd.users.remember_idea, view.idea.words())
    except StoreError as e:  # no reference: the result still goes out, with Subscribe
        log.warning("idea too long for a button and not stored: %s", e)
        return check_keyboard(view, owner)
    return check_keyboard(view, owner, ref)


def market_keyboard(asset: str, owner: int | None = None) -> InlineKeyboardMarkup | None:
    """Refresh for the market dashboard, and Subscribe to the asset's stress warnings."""
    row = [_button("refresh", button_data(MARKET_REFRESH, asset, "", owner))]
    row.append(_button("subscribe", button_data(SUBSCRIBE, asset), asset=asset))
    buttons = [b for b in row if b is not None]
    return InlineKeyboardMarkup([buttons]) if buttons else None


# ---- grading and rendering one view ------------------------------------------------------------


@dataclass(frozen=True)
class Graded:
    """A view graded for one user: the result and the defaults that completed it."""

    view: CheckView
    result: CheckResult
    defaults: UserDefaults | None  # None: the store could not be read, graded as typed


async def grade_view(
    update: Update, context: Context, view: CheckView, user_id: int | None
) -> Graded:
    """Grade the view's idea, completed from the user's defaults (public ones in a group)."""
    defaults = await defaults_for(update, context, user_id)
    result = await context.bot_data.service.check(view.graded(), defaults)
    behind = view.left_behind()
    if behind:  # the reply says the flip graded without them, as for a both-sides idea
        grades = tuple(replace(g, levels_left_out=behind) for g in result.grades)
        result = replace(result, grades=grades)
    return Graded(view, result, defaults)


def render_view(context: Context, graded: Graded) -> str:
    """The message text of a graded view: compact or details, data times in the user's zone."""
    defaults = graded.defaults
    return render_check(
        graded.result,
        "html",
        context.bot_data.settings.thresholds,
        details=graded.view.details,
        tz=defaults.tz if defaults is not None else None,
        settings_unread=defaults is None,
    )


async def view_reply(
    context: Context, graded: Graded, owner: int | None, ref: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and keyboard of a graded view (`ref`: see `keyboard_for`)."""
    return render_view(context, graded), await keyboard_for(context, graded.view, owner, ref)


def shown_key(view: CheckView) -> str:
    """What a shown result is remembered under: the graded idea's words (any view)."""
    return view.graded().words()


# ---- presses -------------------------------------------------------------------------------


async def refresh_check(update: Update, context: Context) -> None:
    """Re-grade the idea under the button and edit the result in place."""
    await _check_button(update, context, REFRESH)


async def flip_check(update: Update, context: Context) -> None:
    """Grade the other side of the idea under the button, in place."""
    await _check_button(update, context, FLIP)


async def details_check(update: Update, context: Context) -> None:
    """Expand the result in place: every number behind the verdict."""
    await _check_button(update, context, DETAILS)


async def less_check(update: Update, context: Context) -> None:
    """Fold the details back into the compact result, in place."""
    await _check_button(update, context, LESS)


async def _view_of(context: Context, button: ButtonData) -> CheckView | None:
    """The view a check button stands for; None when it can no longer be read."""
    words = None
    if button.ref is not None:
        bd = context.bot_data
        try:
            words = await read_store(context, bd.users.idea_of_ref, button.ref)
        except StoreError as e:
            log.warning("button reference %s unreadable: %s", button.ref, e)
            return None
        if words is None:
            return None
    try:
        idea = idea_of(button, words)
    except ParseError:
        return None
    view = button.view
    return CheckView(idea, flipped=SHOWS_FLIPPED in view, details=SHOWS_DETAILS in view)


async def _check_button(update: Update, context: Context, kind: str) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    button = read_button(query.data)
    view = await _view_of(context, button) if button is not None else None
    if button is None or view is None:
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    if not _visible(query):
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    wanted = view.after(kind)
    if kind in (DETAILS, LESS) and not _may_rewrite(update, button):
        text = render("button", "text", kind="asker_only", words=view.graded().words())
        await answer_quietly(query, text)
        return
    shown = kind in (DETAILS, LESS) and await _show_again(update, context, button, wanted)
    if not shown:
        await _regrade_in_place(update, context, button, wanted)
    if button.ref is not None:
        await _touch(context, button.ref)


async def _touch(context: Context, ref: str) -> None:
    """Keep a pressed button's reference alive; after the answer, so no one waits for it."""
    bd = context.bot_data
    try:
        await bd.store.run(bd.users.touch_idea, ref)
    except StoreError as e:
        log.warning("button reference %s not touched: %s", ref, e)


async def _show_again(
    update: Update, context: Context, button: ButtonData, view: CheckView
) -> bool:
    """Details / Less of the result on screen: re-rendered, not re-graded (same numbers).

    False when this process no longer holds that result (a restart): then it is graded.
    """
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    message = query.message
    result = context.bot_data.shown.get(message.chat.id, message.message_id, shown_key(view))
    if result is None:
        return False
    defaults = await defaults_for(update, context, query.from_user.id)
    graded = Graded(view, result, defaults)
    await edit_in_place(query, *await view_reply(context, graded, button.owner, button.ref))
    await answer_quietly(query)
    return True


async def _regrade_in_place(
    update: Update, context: Context, button: ButtonData, view: CheckView
) -> None:
    """Grade again; the asker's message is edited in place, anyone else gets a popup."""
    query = update.callback_query
    assert query is not None
    if not await _within_limit(update, context):
        return
    try:
        graded = await grade_view(update, context, view, query.from_user.id)
    except PreflightError as e:
        await answer_quietly(query, problem(e, "text"), show_alert=True)
        return
    if not _may_rewrite(update, button):
        popup = render("button", "text", kind="popup", r=graded.result, now=wall_clock_ms())
        await answer_quietly(query, popup, show_alert=True)
        return
    reply = await view_reply(context, graded, button.owner, button.ref)
    changed = await edit_in_place(query, *reply)
    message = query.message
    if isinstance(message, Message):
        context.bot_data.shown.remember(
            message.chat.id, message.message_id, shown_key(view), graded.result
        )
    await answer_quietly(
        query, render("notice", "text", kind="updated" if changed else "unchanged")
    )


async def refresh_market(update: Update, context: Context) -> None:
    """Reload the market dashboard under the button, in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    button = read_button(query.data)
    if button is None or not _visible(query):
        await answer_quietly(query, render("notice", "text", kind="outdated_button"))
        return
    if not await _within_limit(update, context):
        return
    try:
        result = await context.bot_data.service.market(button.asset)
    except PreflightError as e:
        await answer_quietly(query, problem(e, "text"), show_alert=True)
        return
    if not _may_rewrite(update, button):
        popup = render("button", "text", kind="popup", r=result, now=wall_clock_ms())
        await answer_quietly(query, popup, show_alert=True)
        return
    markup = market_keyboard(button.asset, button.owner)
    defaults = await defaults_for(update, context, query.from_user.id)
    tz = defaults.tz if defaults is not None else None
    changed = await edit_in_place(query, render_market(result, tz=tz), markup)
    await answer_quietly(
        query, render("notice", "text", kind="updated" if changed else "unchanged")
    )


def _visible(query: CallbackQuery) -> bool:
    """Telegram still lets the bot see (and edit) the button's message."""
    return query.message is not None and query.message.is_accessible


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
    wait_s = check_limited(context, query.from_user.id)
    if wait_s is None:
        return True
    await answer_quietly(query, slow_down(context, wait_s, fmt="text"), show_alert=True)
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
