"""Persistence of chats' settings, subscriptions, watcher state and the broadcast outbox."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from signals.defaults import UserDefaults
from signals.migrations import MIGRATIONS
from signals.store import Store
from signals.stress import Observation
from signals.userdata import ChatSettings, Draft, NotifiedUpdate, Subscription, UserData

NOW = 1_779_235_200.0


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "preflight.sqlite"


@pytest.fixture
def users(store_path: Path) -> UserData:
    return UserData(Store(store_path), clock=lambda: NOW)


def reopen(store_path: Path) -> UserData:
    """A fresh Store on the same file, as after a restart."""
    return UserData(Store(store_path), clock=lambda: NOW + 60)


def test_schema_is_at_version_three_or_later(users: UserData) -> None:
    assert users.store.schema_version() >= 3


def test_daily_settings_survive_a_restart(users: UserData, store_path: Path) -> None:
    users.set_daily(-100, "supergroup", "08:00", "Europe/Berlin", ["BTC", "ETH"], 42)

    again = reopen(store_path)

    assert again.chat(-100) == ChatSettings(
        -100, "supergroup", "08:00", "Europe/Berlin", ("BTC", "ETH"), 42
    )
    assert again.daily_chats() == [again.chat(-100)]


def test_daily_off_keeps_timezone_and_watchlist(users: UserData) -> None:
    users.set_daily(7, "private", "21:30", "Asia/Tokyo", ["SOL"], None)

    off = users.daily_off(7)
    back = users.set_daily(7, "private", "06:00", None, None, None)

    assert off == ChatSettings(7, "private", None, "Asia/Tokyo", ("SOL",), None)
    assert users.daily_chats() == [back]
    assert (back.daily_time, back.tz, back.watchlist) == ("06:00", "Asia/Tokyo", ("SOL",))


def test_watchlist_can_be_set_before_a_daily_time(users: UserData) -> None:
    settings = users.set_watchlist(7, "private", ["ETH", "XRP"])

    assert settings == ChatSettings(7, "private", None, "UTC", ("ETH", "XRP"), None)
    assert users.daily_chats() == []


def test_subscribe_starts_from_the_current_level(users: UserData) -> None:
    subs = users.subscribe(
        5, "ETH", {"long": ("elevated", ("open_interest", "funding")), "short": ("calm", ())}, 9
    )

    assert subs == [
        Subscription(5, "ETH", "long", 9, True, "elevated", ("open_interest", "funding")),
        Subscription(5, "ETH", "short", 9, True, "calm", ()),
    ]
    assert users.subscribed_assets() == ["ETH"]
    assert [s.chat_id for s in users.subscribers("ETH")] == [5, 5]


def test_unsubscribe_one_asset_or_all(users: UserData) -> None:
    users.subscribe(5, "ETH", {"long": ("calm", ())}, None)
    users.subscribe(5, "BTC", {"long": ("calm", ()), "short": ("calm", ())}, None)

    assert users.unsubscribe(5, "ETH") == 1
    assert [s.asset for s in users.subscriptions(5)] == ["BTC", "BTC"]
    assert users.unsubscribe(5) == 2
    assert users.subscriptions(5) == []
    assert users.subscribed_assets() == []


def test_deactivating_a_chat_pauses_its_subscriptions_summary_and_pending_messages(
    users: UserData,
) -> None:
    users.subscribe(5, "ETH", {"long": ("calm", ())}, None)
    users.subscribe(6, "ETH", {"long": ("calm", ())}, None)
    users.set_daily(5, "private", "08:00", "UTC", None, None)
    users.enqueue([Draft("a", 5, "hi"), Draft("b", 6, "hi")])

    assert users.deactivate_chat(5) == 1

    assert users.subscriptions(5) == []
    assert [s.active for s in users.subscriptions(5, active_only=False)] == [False]
    assert [s.chat_id for s in users.subscribers("ETH")] == [6]
    assert users.daily_chats() == []
    assert [m.chat_id for m in users.pending()] == [6]
    # subscribing again reactivates
    users.subscribe(5, "ETH", {"long": ("stress", ("funding",))}, None)
    assert [s.active for s in users.subscriptions(5)] == [True]


def test_supergroup_migration_moves_settings_subscriptions_and_pending_messages(
    users: UserData,
) -> None:
    users.set_daily(-1, "group", "08:00", "Europe/Berlin", ["ETH"], None)
    users.subscribe(-1, "ETH", {"long": ("calm", ())}, None)
    users.enqueue([Draft("k", -1, "hi")])

    users.migrate_chat(-1, -1001)
    users.migrate_chat(-1, -1001)  # Telegram may deliver the service message twice

    assert users.chat(-1) is None
    assert users.chat(-1001) == ChatSettings(
        -1001, "supergroup", "08:00", "Europe/Berlin", ("ETH",), None
    )
    assert [(s.chat_id, s.asset) for s in users.subscriptions(-1001)] == [(-1001, "ETH")]
    assert [m.chat_id for m in users.pending()] == [-1001]


def test_enqueue_skips_a_dedupe_key_already_queued(users: UserData) -> None:
    assert users.enqueue([Draft("daily:1:2026-05-20", 1, "one")]) == 1
    assert users.enqueue([Draft("daily:1:2026-05-20", 1, "again")]) == 0

    [message] = users.pending()
    assert message.body == "one"
    users.mark_sent(message.id, 77)
    assert users.enqueue([Draft("daily:1:2026-05-20", 1, "after sending")]) == 0
    assert users.pending() == []
    assert users.outbox_counts() == {"sent": 1}


def test_outbox_round_trips_photos_topics_and_buttons(users: UserData) -> None:
    buttons = [[{"text": "Check ETH", "callback_data": "check:ETH"}]]
    users.enqueue(
        [Draft("p", -5, "caption", thread_id=3, kind="photo", photo=b"\x89PNG", buttons=buttons)]
    )

    [message] = users.pending()

    assert (message.chat_id, message.thread_id, message.kind, message.body) == (
        -5,
        3,
        "photo",
        "caption",
    )
    assert message.photo == b"\x89PNG"
    assert message.buttons == buttons


def test_commit_poll_stores_observations_notified_levels_and_alerts_together(
    users: UserData, store_path: Path
) -> None:
    users.subscribe(5, "ETH", {"long": ("elevated", ("funding", "skew"))}, None)
    seen = {
        "long": Observation("stress", 1, ("open_interest", "funding", "skew")),
        "short": Observation("calm", 3, ()),
    }

    queued = users.commit_poll(
        "ETH",
        123,
        seen,
        [NotifiedUpdate(5, "ETH", "long", "stress", ("open_interest", "funding", "skew"))],
        [Draft("alert:5:ETH:1", 5, "stress!")],
    )

    again = reopen(store_path)
    assert queued == 1
    assert again.observations("ETH") == seen
    [sub] = again.subscriptions(5)
    assert (sub.notified_level, sub.notified_flags) == (
        "stress",
        ("open_interest", "funding", "skew"),
    )
    assert [m.body for m in again.pending()] == ["stress!"]


def test_a_failed_poll_commit_leaves_nothing_behind(users: UserData) -> None:
    users.subscribe(5, "ETH", {"long": ("calm", ())}, None)
    bad = Draft("x", 5, "hi", kind="video")  # type: ignore[arg-type]

    with pytest.raises(Exception, match="CHECK constraint"):
        users.commit_poll(
            "ETH",
            1,
            {"long": Observation("stress", 1, ())},
            [NotifiedUpdate(5, "ETH", "long", "stress", ())],
            [bad],
        )

    assert users.observations("ETH") == {}
    assert users.subscriptions(5)[0].notified_level == "calm"
    assert users.pending() == []


def test_failed_and_pruned_messages(users: UserData) -> None:
    users.enqueue([Draft("a", 1, "x"), Draft("b", 2, "y")])
    first, second = users.pending()

    users.mark_failed(first.id, "Bad Request: chat not found")
    users.note_attempt(second.id, "timed out")

    assert [(m.id, m.attempts) for m in users.pending()] == [(second.id, 1)]
    assert users.prune_outbox(int(NOW * 1000) + 1) == 1
    assert users.outbox_counts() == {"pending": 1}


# ---- personal defaults and idea references (schema 6) ----------------------------------------


def test_personal_defaults_survive_a_restart_per_user(users: UserData, store_path: Path) -> None:
    mine = UserDefaults(10_000.0, 0.01, None, 5.0, 3.0, "Europe/Berlin")
    users.save_user_defaults(7, mine)
    users.save_user_defaults(8, UserDefaults(risk_usd=200.0))

    again = reopen(store_path)

    assert again.user_defaults(7) == mine
    assert again.user_defaults(8) == UserDefaults(risk_usd=200.0)
    assert again.user_defaults(9) == UserDefaults()


def test_saving_nothing_removes_the_row(users: UserData) -> None:
    users.save_user_defaults(7, UserDefaults(leverage=3.0))

    users.save_user_defaults(7, UserDefaults())

    rows = users.store.connect().execute("SELECT COUNT(*) FROM user_settings").fetchone()
    assert (users.user_defaults(7), rows[0]) == (UserDefaults(), 0)


def test_a_group_moving_or_a_blocked_chat_keeps_a_users_defaults(users: UserData) -> None:
    users.save_user_defaults(7, UserDefaults(leverage=3.0))
    users.set_daily(7, "private", "08:00", None, None, None)

    users.deactivate_chat(7)
    users.migrate_chat(-5, -1005)

    assert users.user_defaults(7) == UserDefaults(leverage=3.0)


def test_an_idea_reference_is_stable_short_and_read_back(
    users: UserData, store_path: Path
) -> None:
    words = "$ETH long 12.5x @ 3000.125-3050.875 stop 2900.5 tp 3400 3600 3800 risk 1% acct 10000"

    ref = users.remember_idea(words)

    assert re.fullmatch(r"[a-z2-7]{10}", ref)
    assert users.remember_idea(words) == ref  # the same idea, the same reference
    assert users.remember_idea(words + " for 72h") != ref
    assert reopen(store_path).idea_of_ref(ref) == words  # kept across a restart
    assert users.idea_of_ref("aaaaaaaaaa") is None


def test_idea_references_unused_for_half_a_year_are_dropped(store_path: Path) -> None:
    now = [NOW]
    users = UserData(Store(store_path), clock=lambda: now[0])
    old = users.remember_idea("$ETH long 5x tp 1 2 3")
    kept = users.remember_idea("$SOL long 5x tp 1 2 3")
    now[0] += 100 * 86_400
    users.touch_idea(kept)  # pressing a button keeps it alive
    now[0] += 100 * 86_400

    users.remember_idea("$BTC long 5x tp 1 2 3")

    assert users.idea_of_ref(old) is None
    assert users.idea_of_ref(kept) == "$SOL long 5x tp 1 2 3"


def test_a_reference_collision_takes_the_next_slice_of_the_hash(users: UserData) -> None:
    words = "$ETH long 5x tp 1 2 3"
    first = users.remember_idea(words)
    users.store.connect().execute("UPDATE idea_refs SET words = 'something else'")

    second = users.remember_idea(words)

    assert second != first and len(second) == 10
    assert users.idea_of_ref(second) == words


def test_a_schema_5_store_gains_the_settings_tables_and_keeps_its_chats(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for version, sql in MIGRATIONS:
        if version <= 5:
            conn.executescript(sql)
    conn.execute("INSERT INTO chats (chat_id, updated_ms) VALUES (7, 0)")
    conn.execute("PRAGMA user_version=5")
    conn.commit()
    conn.close()

    users = UserData(Store(path), clock=lambda: NOW)

    assert users.chat(7) is not None
    assert users.user_defaults(7) == UserDefaults()
    users.save_user_defaults(7, UserDefaults(horizon_days=2.0))
    assert users.user_defaults(7).horizon_days == 2.0
