"""What users set up, persisted in the shared SQLite store (schema versions 3, 5 and 6).

Chats' daily-summary settings, each user's personal defaults (/settings), the ideas too
long for a button (kept under a short reference), stress-warning subscriptions with the
level last notified, the watcher's per-side observations, and the outbox: every broadcast
message is written here, in the same transaction as the state change that caused it, before
it is sent. A crash mid-broadcast therefore resumes from the outbox without sending anything
twice.

Every method is synchronous SQLite; the bot calls them through `Store.run`, on the store's
own thread, never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from signals.defaults import UserDefaults
from signals.store import Store
from signals.stress import Level, Observation

log = logging.getLogger(__name__)

OutboxKind = Literal["text", "photo"]
Clock = Callable[[], float]
# an idea kept for a button is dropped once no button used it for this long
IDEA_REF_KEEP_MS = 180 * 86_400_000
IDEA_REF_CHARS = 10  # base32 of a SHA-256: 50 bits, collisions checked on write


@dataclass(frozen=True)
class ChatSettings:
    """One chat's daily-summary settings; `daily_time` None means summaries are off."""

    chat_id: int
    chat_type: str = "private"
    daily_time: str | None = None
    tz: str = "UTC"
    watchlist: tuple[str, ...] = ()
    thread_id: int | None = None
    # when the current daily time (and timezone) was set, ms; None: before schema 5. A
    # bookkeeping detail, so not part of equality.
    daily_set_ms: int | None = field(default=None, compare=False)

    @property
    def daily_on(self) -> bool:
        """True when a daily summary is scheduled."""
        return self.daily_time is not None


@dataclass(frozen=True)
class Subscription:
    """One chat's stress-warning subscription to one side of one asset."""

    chat_id: int
    asset: str
    side: str
    thread_id: int | None
    active: bool
    notified_level: Level
    notified_flags: tuple[str, ...]


@dataclass(frozen=True)
class Draft:
    """A message to broadcast; `dedupe_key` makes enqueueing it twice a no-op."""

    dedupe_key: str
    chat_id: int
    body: str
    thread_id: int | None = None
    kind: OutboxKind = "text"
    photo: bytes | None = None
    # rows of buttons: [[{"text": …, "callback_data": …}]]
    buttons: list[list[dict[str, str]]] = field(default_factory=list)


@dataclass(frozen=True)
class OutboxMessage:
    """A message in the outbox, as stored."""

    id: int
    dedupe_key: str
    chat_id: int
    thread_id: int | None
    kind: OutboxKind
    body: str
    photo: bytes | None
    buttons: list[list[dict[str, str]]]
    attempts: int


@dataclass(frozen=True)
class NotifiedUpdate:
    """The level a subscriber has now been told about (written with its alert)."""

    chat_id: int
    asset: str
    side: str
    level: Level
    flags: tuple[str, ...]


class UserData:
    """Typed access to the bot's user tables; every write is one transaction."""

    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        self.store = store
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---- chats and daily summaries -------------------------------------------------------

    def chat(self, chat_id: int) -> ChatSettings | None:
        """A chat's settings, or None when it never set anything."""
        row = (
            self.store.connect()
            .execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE chat_id = ?",
                (chat_id,),
            )
            .fetchone()
        )
        return _chat(row) if row else None

    def set_daily(
        self,
        chat_id: int,
        chat_type: str,
        daily_time: str,
        tz: str | None,
        watchlist: Sequence[str] | None,
        thread_id: int | None,
    ) -> ChatSettings:
        """Turn on (or move) a chat's daily summary; None keeps the stored tz / watchlist."""
        now = self._now_ms()
        with self.store.transaction() as conn:
            self._ensure_chat(conn, chat_id, chat_type)
            before = conn.execute(
                "SELECT daily_time, tz FROM chats WHERE chat_id = ?", (chat_id,)
            ).fetchone()
            moved = before[0] != daily_time or (tz is not None and before[1] != tz)
            conn.execute(
                "UPDATE chats SET daily_time = ?, thread_id = ?, chat_type = ?, updated_ms = ?, "
                "daily_set_ms = CASE WHEN ? THEN ? ELSE daily_set_ms END WHERE chat_id = ?",
                (daily_time, thread_id, chat_type, now, moved, now, chat_id),
            )
            if tz is not None:
                conn.execute("UPDATE chats SET tz = ? WHERE chat_id = ?", (tz, chat_id))
            if watchlist is not None:
                conn.execute(
                    "UPDATE chats SET watchlist = ? WHERE chat_id = ?",
                    (" ".join(watchlist), chat_id),
                )
        return self._chat_or_fail(chat_id)

    def daily_off(self, chat_id: int) -> ChatSettings | None:
        """Turn a chat's daily summary off (its timezone and watchlist are kept)."""
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE chats SET daily_time = NULL, updated_ms = ? WHERE chat_id = ?",
                (self._now_ms(), chat_id),
            )
        return self.chat(chat_id)

    def set_watchlist(
        self, chat_id: int, chat_type: str, watchlist: Sequence[str]
    ) -> ChatSettings:
        """Set the assets a chat's summary covers."""
        with self.store.transaction() as conn:
            self._ensure_chat(conn, chat_id, chat_type)
            conn.execute(
                "UPDATE chats SET watchlist = ?, updated_ms = ? WHERE chat_id = ?",
                (" ".join(watchlist), self._now_ms(), chat_id),
            )
        return self._chat_or_fail(chat_id)

    def daily_chats(self) -> list[ChatSettings]:
        """Every chat with a daily summary on (to reschedule at start-up)."""
        rows = self.store.connect().execute(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE daily_time IS NOT NULL ORDER BY chat_id"
        )
        return [_chat(r) for r in rows]

    def _ensure_chat(self, conn: sqlite3.Connection, chat_id: int, chat_type: str) -> None:
        conn.execute(
            "INSERT INTO chats (chat_id, chat_type, updated_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id) DO NOTHING",
            (chat_id, chat_type, self._now_ms()),
        )

    def _chat_or_fail(self, chat_id: int) -> ChatSettings:
        settings = self.chat(chat_id)
        if settings is None:  # written in the transaction just committed
            raise LookupError(f"chat {chat_id} vanished")
        return settings

    # ---- personal defaults (/settings) ----------------------------------------------------

    def user_defaults(self, user_id: int) -> UserDefaults:
        """A user's /settings (all None when they never set any)."""
        row = (
            self.store.connect()
            .execute(
                "SELECT account_usd, risk_pct, risk_usd, leverage, horizon_days, tz "
                "FROM user_settings WHERE user_id = ?",
                (user_id,),
            )
            .fetchone()
        )
        return UserDefaults(*row) if row else UserDefaults()

    def save_user_defaults(self, user_id: int, defaults: UserDefaults) -> UserDefaults:
        """Store a user's /settings whole (nothing set: the row goes); return what is stored."""
        with self.store.transaction() as conn:
            if defaults.is_empty:
                conn.execute("DELETE FROM user_settings WHERE user_id = ?", (user_id,))
            else:
                conn.execute(
                    "INSERT INTO user_settings (user_id, account_usd, risk_pct, risk_usd, "
                    "leverage, horizon_days, tz, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET account_usd = excluded.account_usd, "
                    "risk_pct = excluded.risk_pct, risk_usd = excluded.risk_usd, "
                    "leverage = excluded.leverage, horizon_days = excluded.horizon_days, "
                    "tz = excluded.tz, updated_ms = excluded.updated_ms",
                    (
                        user_id,
                        defaults.account_usd,
                        defaults.risk_pct,
                        defaults.risk_usd,
                        defaults.leverage,
                        defaults.horizon_days,
                        defaults.tz,
                        self._now_ms(),
                    ),
                )
        return self.user_defaults(user_id)

    # ---- ideas too long for a button -------------------------------------------------------

    def remember_idea(self, words: str) -> str:
        """Keep idea words a button cannot carry; return the short reference it carries.

        The reference is a hash of the words, so the same idea always gets the same one;
        ideas no button used for IDEA_REF_KEEP_MS are dropped on the way.
        """
        now = self._now_ms()
        digest = hashlib.sha256(words.encode("utf-8")).digest()
        base = base64.b32encode(digest).decode("ascii").lower().rstrip("=")
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM idea_refs WHERE used_ms < ?", (now - IDEA_REF_KEEP_MS,))
            for start in range(0, len(base) - IDEA_REF_CHARS + 1):
                ref = base[start : start + IDEA_REF_CHARS]
                held = conn.execute("SELECT words FROM idea_refs WHERE ref = ?", (ref,)).fetchone()
                if held is None:
                    conn.execute(
                        "INSERT INTO idea_refs (ref, words, created_ms, used_ms) "
                        "VALUES (?, ?, ?, ?)",
                        (ref, words, now, now),
                    )
                    return ref
                if held[0] == words:
                    conn.execute("UPDATE idea_refs SET used_ms = ? WHERE ref = ?", (now, ref))
                    return ref
        raise LookupError("no free idea reference")  # 2^50 ideas: never in practice

    def idea_of_ref(self, ref: str) -> str | None:
        """The idea words kept under a button's reference (None: unknown or dropped).

        A read only: it never waits for a writer (WAL), so a press is answered at once.
        """
        conn = self.store.connect()
        row = conn.execute("SELECT words FROM idea_refs WHERE ref = ?", (ref,)).fetchone()
        return str(row[0]) if row is not None else None

    def touch_idea(self, ref: str) -> None:
        """A button used the reference: keep it another IDEA_REF_KEEP_MS."""
        self.store.connect().execute(
            "UPDATE idea_refs SET used_ms = ? WHERE ref = ?", (self._now_ms(), ref)
        )

    # ---- subscriptions --------------------------------------------------------------------

    def subscribe(
        self,
        chat_id: int,
        asset: str,
        levels: dict[str, tuple[Level, tuple[str, ...]]],
        thread_id: int | None,
    ) -> list[Subscription]:
        """Subscribe a chat to the given sides of an asset, starting from their current level.

        `levels` maps side → (level, caution flags) now: the subscriber is told the current
        state in the reply, so only changes from here on are alerts.
        """
        now = self._now_ms()
        with self.store.transaction() as conn:
            for side, (level, flags) in levels.items():
                conn.execute(
                    "INSERT INTO subscriptions (chat_id, asset, side, thread_id, active, "
                    "notified_level, notified_flags, created_ms, updated_ms) "
                    "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?) "
                    "ON CONFLICT (chat_id, asset, side) DO UPDATE SET active = 1, "
                    "thread_id = excluded.thread_id, notified_level = excluded.notified_level, "
                    "notified_flags = excluded.notified_flags, updated_ms = excluded.updated_ms",
                    (chat_id, asset, side, thread_id, level, " ".join(flags), now, now),
                )
        return self.subscriptions(chat_id)

    def unsubscribe(
        self, chat_id: int, asset: str | None = None, sides: Sequence[str] | None = None
    ) -> int:
        """Remove a chat's subscriptions to one asset (None: all), to the given sides of it
        (None: both); return how many went."""
        with self.store.transaction() as conn:
            if asset is None:
                cur = conn.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))
            elif sides is None:
                cur = conn.execute(
                    "DELETE FROM subscriptions WHERE chat_id = ? AND asset = ?", (chat_id, asset)
                )
            else:
                marks = ", ".join("?" for _ in sides)
                cur = conn.execute(
                    "DELETE FROM subscriptions WHERE chat_id = ? AND asset = ? "
                    f"AND side IN ({marks})",
                    (chat_id, asset, *sides),
                )
            return cur.rowcount

    def subscriptions(self, chat_id: int, active_only: bool = True) -> list[Subscription]:
        """A chat's subscriptions, by asset then side."""
        rows = self.store.connect().execute(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE chat_id = ? "
            + ("AND active = 1 " if active_only else "")
            + "ORDER BY asset, side",
            (chat_id,),
        )
        return [_subscription(r) for r in rows]

    def subscribed_assets(self) -> list[str]:
        """Every asset with at least one active subscription."""
        rows = self.store.connect().execute(
            "SELECT DISTINCT asset FROM subscriptions WHERE active = 1 ORDER BY asset"
        )
        return [r[0] for r in rows]

    def subscribers(self, asset: str) -> list[Subscription]:
        """Every active subscription to an asset, by chat then side."""
        rows = self.store.connect().execute(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE asset = ? AND active = 1 "
            "ORDER BY chat_id, side",
            (asset,),
        )
        return [_subscription(r) for r in rows]

    def deactivate_chat(self, chat_id: int) -> int:
        """A chat blocked or removed the bot: pause its subscriptions and daily summary."""
        now = self._now_ms()
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE subscriptions SET active = 0, updated_ms = ? "
                "WHERE chat_id = ? AND active = 1",
                (now, chat_id),
            )
            conn.execute(
                "UPDATE chats SET daily_time = NULL, updated_ms = ? WHERE chat_id = ?",
                (now, chat_id),
            )
            conn.execute(
                "UPDATE outbox SET status = 'dropped', error = 'chat unreachable' "
                "WHERE chat_id = ? AND status = 'pending'",
                (chat_id,),
            )
            return cur.rowcount

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: move everything it set up to the new chat id."""
        with self.store.transaction() as conn:
            # a second migrate message must not clobber what the new id already holds
            conn.execute(
                "UPDATE OR IGNORE chats SET chat_id = ?, chat_type = 'supergroup' "
                "WHERE chat_id = ?",
                (new_chat_id, old_chat_id),
            )
            conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))
            conn.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?",
                (new_chat_id, old_chat_id),
            )
            conn.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old_chat_id,))
            conn.execute(
                "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
                (new_chat_id, old_chat_id),
            )

    # ---- the watcher ------------------------------------------------------------------------

    def observations(self, asset: str) -> dict[str, Observation]:
        """The watcher's latest observation of each side of an asset."""
        rows = self.store.connect().execute(
            "SELECT side, level, streak, flags, clear_flags, blind_since_ms, gap_notified "
            "FROM watch_state WHERE asset = ?",
            (asset,),
        )
        return {
            side: Observation(
                level, int(streak), _flags(flags), _flags(clear), blind_since, bool(gap)
            )
            for side, level, streak, flags, clear, blind_since, gap in rows
        }

    def commit_poll(
        self,
        asset: str,
        asof: int,
        observations: dict[str, Observation],
        notified: Iterable[NotifiedUpdate],
        drafts: Iterable[Draft],
    ) -> int:
        """Store one poll's outcome atomically: observations, notified levels, alert messages.

        Returns how many messages were newly queued.
        """
        now = self._now_ms()
        with self.store.transaction() as conn:
            for side, seen in observations.items():
                conn.execute(
                    "INSERT INTO watch_state (asset, side, level, streak, flags, asof, polled_ms, "
                    "clear_flags, blind_since_ms, gap_notified) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (asset, side) DO UPDATE SET "
                    "level = excluded.level, streak = excluded.streak, flags = excluded.flags, "
                    "asof = excluded.asof, polled_ms = excluded.polled_ms, "
                    "clear_flags = excluded.clear_flags, "
                    "blind_since_ms = excluded.blind_since_ms, "
                    "gap_notified = excluded.gap_notified",
                    (
                        asset,
                        side,
                        seen.level,
                        seen.streak,
                        " ".join(seen.caution_flags),
                        asof,
                        now,
                        " ".join(seen.clear_flags),
                        seen.blind_since_ms,
                        int(seen.gap_notified),
                    ),
                )
            conn.executemany(
                "UPDATE subscriptions SET notified_level = ?, notified_flags = ?, updated_ms = ? "
                "WHERE chat_id = ? AND asset = ? AND side = ?",
                [(u.level, " ".join(u.flags), now, u.chat_id, u.asset, u.side) for u in notified],
            )
            return self._insert_drafts(conn, drafts, now)

    # ---- the outbox -------------------------------------------------------------------------

    def enqueue(self, drafts: Iterable[Draft]) -> int:
        """Queue messages (a dedupe key already queued is skipped); return how many are new."""
        with self.store.transaction() as conn:
            return self._insert_drafts(conn, drafts, self._now_ms())

    def _insert_drafts(self, conn: sqlite3.Connection, drafts: Iterable[Draft], now: int) -> int:
        before = conn.total_changes
        conn.executemany(
            "INSERT INTO outbox (dedupe_key, chat_id, thread_id, kind, body, photo, buttons, "
            "status, attempts, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?) "
            "ON CONFLICT (dedupe_key) DO NOTHING",
            [
                (
                    d.dedupe_key,
                    d.chat_id,
                    d.thread_id,
                    d.kind,
                    d.body,
                    d.photo,
                    json.dumps(d.buttons) if d.buttons else None,
                    now,
                )
                for d in drafts
            ],
        )
        return conn.total_changes - before

    def pending(self, limit: int | None = None, after_id: int = 0) -> list[OutboxMessage]:
        """Messages not yet sent with an id above `after_id`, oldest first."""
        sql = (
            "SELECT id, dedupe_key, chat_id, thread_id, kind, body, photo, buttons, attempts "
            "FROM outbox WHERE status = 'pending' AND id > ? ORDER BY id"
        )
        params: tuple[Any, ...] = (after_id,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after_id, limit)
        return [_message(r) for r in self.store.connect().execute(sql, params)]

    def has_message_like(self, key_prefix: str) -> bool:
        """True when a message whose key starts with `key_prefix` was ever queued."""
        # a key range rather than LIKE: exact (LIKE ignores case) and it uses the key's index
        row = (
            self.store.connect()
            .execute(
                "SELECT 1 FROM outbox WHERE dedupe_key >= ? AND dedupe_key < ? LIMIT 1",
                (key_prefix, key_prefix + "\U0010ffff"),
            )
            .fetchone()
        )
        return row is not None

    def has_message(self, dedupe_key: str) -> bool:
        """True when a message with this key was ever queued (sent or not)."""
        row = (
            self.store.connect()
            .execute("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,))
            .fetchone()
        )
        return row is not None

    def pending_count(self, chat_id: int) -> int:
        """How many messages wait to be sent to one chat."""
        row = (
            self.store.connect()
            .execute(
                "SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND status = 'pending'", (chat_id,)
            )
            .fetchone()
        )
        return int(row[0])

    def is_pending(self, message_id: int) -> bool:
        """True while a message is still waiting to be sent."""
        row = (
            self.store.connect()
            .execute("SELECT status FROM outbox WHERE id = ?", (message_id,))
            .fetchone()
        )
        return bool(row) and row[0] == "pending"

    def mark_sent(self, message_id: int, telegram_message_id: int | None = None) -> None:
        """Record that a message was delivered."""
        self.store.connect().execute(
            "UPDATE outbox SET status = 'sent', sent_ms = ?, telegram_message_id = ?, "
            "attempts = attempts + 1 WHERE id = ?",
            (self._now_ms(), telegram_message_id, message_id),
        )

    def mark_failed(self, message_id: int, error: str) -> None:
        """Give up on a message Telegram refused for good."""
        self.store.connect().execute(
            "UPDATE outbox SET status = 'failed', error = ?, attempts = attempts + 1 WHERE id = ?",
            (error[:500], message_id),
        )

    def note_attempt(self, message_id: int, error: str) -> None:
        """Count a failed attempt that will be retried."""
        self.store.connect().execute(
            "UPDATE outbox SET attempts = attempts + 1, error = ? WHERE id = ?",
            (error[:500], message_id),
        )

    def outbox_counts(self) -> dict[str, int]:
        """How many messages are in each outbox status."""
        rows = self.store.connect().execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {status: int(n) for status, n in rows}

    def prune_outbox(self, older_than_ms: int) -> int:
        """Delete finished messages created before the cut-off; return how many went."""
        cur = self.store.connect().execute(
            "DELETE FROM outbox WHERE status != 'pending' AND created_ms < ?", (older_than_ms,)
        )
        return cur.rowcount


_SUB_COLUMNS = "chat_id, asset, side, thread_id, active, notified_level, notified_flags"
_CHAT_COLUMNS = "chat_id, chat_type, daily_time, tz, watchlist, thread_id, daily_set_ms"


def _flags(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def _chat(row: tuple[Any, ...]) -> ChatSettings:
    chat_id, chat_type, daily_time, tz, watchlist, thread_id, daily_set_ms = row
    return ChatSettings(
        chat_id=int(chat_id),
        chat_type=chat_type,
        daily_time=daily_time,
        tz=tz,
        watchlist=_flags(watchlist),
        thread_id=thread_id,
        daily_set_ms=daily_set_ms,
    )


def _subscription(row: tuple[Any, ...]) -> Subscription:
    chat_id, asset, side, thread_id, active, level, flags = row
    return Subscription(
        chat_id=int(chat_id),
        asset=asset,
        side=side,
        thread_id=thread_id,
        active=bool(active),
        notified_level=level,
        notified_flags=_flags(flags),
    )


def _message(row: tuple[Any, ...]) -> OutboxMessage:
    msg_id, key, chat_id, thread_id, kind, body, photo, buttons, attempts = row
    return OutboxMessage(
        id=int(msg_id),
        dedupe_key=key,
        chat_id=int(chat_id),
        thread_id=thread_id,
        kind=kind,
        body=body,
        photo=bytes(photo) if photo is not None else None,
        buttons=json.loads(buttons) if buttons else [],
        attempts=int(attempts),
    )
