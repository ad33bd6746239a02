"""Schema migrations of the SQLite store. Append; never edit a released one.

The store applies every version it has not applied yet (it records them one by one), so
numbers need not arrive in order: version 4 belongs to another change.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE samples (
            asset TEXT NOT NULL,
            metric TEXT NOT NULL,
            ts INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (asset, metric, ts)
        ) WITHOUT ROWID;
        """,
    ),
    (
        2,
        # liquidations: 1-minute buckets per (asset, venue, side); coverage spans say when a
        # venue was actually being recorded (a zero bucket only means "none" inside a span);
        # gaps note why a stream dropped.
        """
        CREATE TABLE liq_minutes (
            asset TEXT NOT NULL,
            venue TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('long', 'short')),
            ts INTEGER NOT NULL,
            usd REAL NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (asset, ts, venue, side)
        ) WITHOUT ROWID;
        CREATE TABLE liq_coverage (
            asset TEXT NOT NULL,
            venue TEXT NOT NULL,
            start_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL,
            source TEXT NOT NULL,
            PRIMARY KEY (asset, venue, start_ms)
        ) WITHOUT ROWID;
        CREATE INDEX liq_coverage_by_end ON liq_coverage (asset, end_ms);
        CREATE TABLE liq_gaps (
            venue TEXT NOT NULL,
            start_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (venue, start_ms)
        ) WITHOUT ROWID;
        """,
    ),
    (
        3,
        # the bot's users: chats' daily-summary settings, stress-warning subscriptions with
        # the level last notified, the watcher's per-side streaks, and the broadcast outbox
        # (messages are queued in the same transaction as the state change that caused them).
        """
        CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            chat_type TEXT NOT NULL DEFAULT 'private',
            daily_time TEXT,
            tz TEXT NOT NULL DEFAULT 'UTC',
            watchlist TEXT NOT NULL DEFAULT '',
            thread_id INTEGER,
            updated_ms INTEGER NOT NULL
        );
        CREATE TABLE subscriptions (
            chat_id INTEGER NOT NULL,
            asset TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('long', 'short')),
            thread_id INTEGER,
            active INTEGER NOT NULL DEFAULT 1,
            notified_level TEXT NOT NULL DEFAULT 'calm'
                CHECK (notified_level IN ('calm', 'elevated', 'stress')),
            notified_flags TEXT NOT NULL DEFAULT '',
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            PRIMARY KEY (chat_id, asset, side)
        ) WITHOUT ROWID;
        CREATE INDEX subscriptions_by_asset ON subscriptions (asset, active);
        CREATE TABLE watch_state (
            asset TEXT NOT NULL,
            side TEXT NOT NULL,
            level TEXT NOT NULL,
            streak INTEGER NOT NULL,
            flags TEXT NOT NULL,
            asof INTEGER NOT NULL,
            polled_ms INTEGER NOT NULL,
            PRIMARY KEY (asset, side)
        ) WITHOUT ROWID;
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedupe_key TEXT NOT NULL UNIQUE,
            chat_id INTEGER NOT NULL,
            thread_id INTEGER,
            kind TEXT NOT NULL CHECK (kind IN ('text', 'photo')),
            body TEXT NOT NULL,
            photo BLOB,
            buttons TEXT,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            telegram_message_id INTEGER,
            created_ms INTEGER NOT NULL,
            sent_ms INTEGER
        );
        CREATE INDEX outbox_pending ON outbox (status, id);
        """,
    ),
    (
        5,
        # a daily summary missed while the bot was down is caught up only when it was set
        # before that day's time (daily_set_ms); the watcher remembers each flag's last known
        # state (clear_flags next to the caution `flags`) so a flag that turns unknown holds
        # it, and since when a side has been blind (blind_since_ms) and whether its
        # subscribers were told (gap_notified).
        """
        ALTER TABLE chats ADD COLUMN daily_set_ms INTEGER;
        ALTER TABLE watch_state ADD COLUMN clear_flags TEXT NOT NULL DEFAULT '';
        ALTER TABLE watch_state ADD COLUMN blind_since_ms INTEGER;
        ALTER TABLE watch_state ADD COLUMN gap_notified INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        6,
        # personal defaults (/settings), one row per Telegram user, whatever chat they write
        # in; and the ideas too long for a button's 64 bytes of callback_data, kept under a
        # short reference the button carries (`used_ms`: pressing a button keeps it alive).
        """
        CREATE TABLE user_settings (
            user_id INTEGER PRIMARY KEY,
            account_usd REAL,
            risk_pct REAL,
            risk_usd REAL,
            leverage REAL,
            horizon_days REAL,
            tz TEXT,
            updated_ms INTEGER NOT NULL,
            CHECK (risk_pct IS NULL OR risk_usd IS NULL)
        );
        CREATE TABLE idea_refs (
            ref TEXT PRIMARY KEY,
            words TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            used_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX idea_refs_by_use ON idea_refs (used_ms);
        """,
    ),
    (
        7,
        # the hourly rollup of liq_minutes, kept in the same transaction as the minutes: a
        # check reads 168 hours × venues × sides rows instead of grouping a week of minutes
        # (issue 12). Filled from the minutes already stored.
        """
        CREATE TABLE liq_hours (
            asset TEXT NOT NULL,
            venue TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('long', 'short')),
            hour INTEGER NOT NULL,
            usd REAL NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (asset, hour, venue, side)
        ) WITHOUT ROWID;
        INSERT INTO liq_hours (asset, venue, side, hour, usd, count)
            SELECT asset, venue, side, (ts / 3600000) * 3600000, SUM(usd), SUM(count)
            FROM liq_minutes GROUP BY asset, venue, side, (ts / 3600000) * 3600000;
        """,
    ),
    (
        8,
        # the track record's history (docs/track-record.md): what the venues answered for long
        # histories (daily candles, open interest per venue, funding settlements) and what the
        # bot recorded itself (hourly candles and OI, skew samples, hourly liquidation sums kept
        # past the minute buckets' retention). `hist_coverage` says which span of each venue's
        # series is complete in the store, so a second run asks the venues nothing; the daily
        # job's track records (per asset and side: each day's verdict and max adverse move).
        """
        CREATE TABLE hist_bars (
            asset TEXT NOT NULL,
            venue TEXT NOT NULL,
            timeframe TEXT NOT NULL CHECK (timeframe IN ('1d', '1h')),
            ts INTEGER NOT NULL,
            open REAL NOT NULL,
            high REAL NOT NULL,
            low REAL NOT NULL,
            close REAL NOT NULL,
            volume REAL NOT NULL,
            PRIMARY KEY (asset, venue, timeframe, ts)
        ) WITHOUT ROWID;
        CREATE TABLE hist_points (
            asset TEXT NOT NULL,
            venue TEXT NOT NULL,
            series TEXT NOT NULL,
            ts INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (asset, venue, series, ts)
        ) WITHOUT ROWID;
        CREATE TABLE hist_coverage (
            asset TEXT NOT NULL,
            venue TEXT NOT NULL,
            series TEXT NOT NULL,
            start_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL,
            fetched_ms INTEGER NOT NULL,
            PRIMARY KEY (asset, venue, series, start_ms)
        ) WITHOUT ROWID;
        CREATE TABLE hist_liq_hours (
            asset TEXT NOT NULL,
            venue TEXT NOT NULL,
            ts INTEGER NOT NULL,
            long_usd REAL NOT NULL,
            short_usd REAL NOT NULL,
            PRIMARY KEY (asset, venue, ts)
        ) WITHOUT ROWID;
        CREATE TABLE track_records (
            asset TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('long', 'short')),
            asof INTEGER NOT NULL,
            days_asked INTEGER NOT NULL,
            horizon_days INTEGER NOT NULL,
            mmr REAL NOT NULL,
            computed_ms INTEGER NOT NULL,
            days TEXT NOT NULL,
            PRIMARY KEY (asset, side)
        ) WITHOUT ROWID;
        """,
    ),
]
