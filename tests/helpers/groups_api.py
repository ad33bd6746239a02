"""The strict fake Bot API, extended for groups, charts and broadcasts.

Adds what daily summaries and stress warnings use: `sendPhoto` (multipart uploads, over HTTP
and in-process), `getChatMember` with per-chat admin lists, chats that blocked the bot
(403 Forbidden), basic groups that migrate to supergroups, and Telegram's flood limits —
about 30 messages per second overall and 20 per minute in a group — answered with
429 `retry_after` like the real server.

Telegram does not publish its exact algorithm. The limits are modelled as strictly as its
FAQ reads ("no more than 30 messages per second", "no more than 20 messages per minute"):
sliding windows — at most N messages in *any* second (any minute, per group) — and edits
count like sends. A sender that bursts a second's allowance and then sends at the cap is
over the limit here, as it may be at Telegram. The window lengths can be scaled down so a
10,000-message scenario runs in seconds; scale the bot's pacer the same way.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from telegram.request import RequestData

from handlers.pacing import FloodPacer
from settings import Settings
from tests.helpers.fake_botapi import (
    BOOL,
    FILE,
    INT,
    JSON,
    SEND_COMMON,
    STR,
    ApiCall,
    ApiError,
    FakeBotAPI,
    FakeChat,
    FakeUser,
    StoredMessage,
)
from tests.helpers.telegram import BotHarness, RecordingRequest, run_job

SEND_PHOTO = {
    **SEND_COMMON,
    "photo": FILE,
    "caption": STR,
    "parse_mode": STR,
    "caption_entities": JSON,
    "show_caption_above_media": BOOL,
    "has_spoiler": BOOL,
}
SENDING = frozenset({"sendMessage", "sendPhoto"})
# counted against the flood limits: every message the bot sends, and every edit
LIMITED = SENDING | {"editMessageText"}
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the supergroup chat"
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
MAX_CAPTION = 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_ADMIN_RIGHTS = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


@dataclass
class Window:
    """At most `limit` messages in any `window_s` seconds (a sliding log of send times)."""

    limit: float
    window_s: float
    sent: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        """0 when one more message fits now, else the seconds until it would."""
        while self.sent and self.sent[0] <= now - self.window_s:
            self.sent.popleft()
        if len(self.sent) < self.limit:
            return 0.0
        return self.sent[-math.floor(self.limit)] + self.window_s - now

    def take(self, now: float) -> None:
        """Count one message sent at `now`."""
        self.sent.append(now)


@dataclass
class FloodLimits:
    """Telegram's flood limits for sending methods (and edits), as sliding windows."""

    per_second: float = 30.0
    per_group_minute: float = 20.0
    clock: Callable[[], float] = time.monotonic
    second_s: float = 1.0
    minute_s: float = 60.0
    overall: Window = field(init=False)
    groups: dict[int, Window] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.overall = Window(self.per_second, self.second_s)

    def check(self, chat_id: int) -> int:
        """0 when a message to `chat_id` may go now (and count it), else retry_after (s)."""
        now = self.clock()
        group = None
        if chat_id < 0:
            group = self.groups.setdefault(chat_id, Window(self.per_group_minute, self.minute_s))
        wait = max(self.overall.wait(now), group.wait(now) if group is not None else 0.0)
        if wait:
            return max(1, math.ceil(wait))
        self.overall.take(now)
        if group is not None:
            group.take(now)
        return 0


@dataclass
class SentPhoto:
    """A photo the bot sent: where, the caption as shown, and the image bytes."""

    chat_id: int
    thread_id: int | None
    caption: str
    image: bytes


class GroupsBotAPI(FakeBotAPI):
    """FakeBotAPI plus sendPhoto, getChatMember, blocked chats, migrations and flood limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params["sendPhoto"] = dict(SEND_PHOTO)
        self.required["sendPhoto"] = {"chat_id", "photo"}
        self.methods["sendPhoto"] = GroupsBotAPI._send_photo  # type: ignore[assignment]
        self.params["getChatMember"] = {"chat_id": "chat_id", "user_id": INT}
        self.required["getChatMember"] = {"chat_id", "user_id"}
        self.methods["getChatMember"] = GroupsBotAPI._get_chat_member  # type: ignore[assignment]
        self.admins: dict[int, set[int]] = {}
        self.blocked: dict[int, str] = {}
        self.migrated: dict[int, int] = {}
        self.photos: list[SentPhoto] = []
        self.limits: FloodLimits | None = None
        self.too_many_requests = 0
        self.delivered = 0
        self._files: dict[str, bytes] = {}
        self._basic_ids = iter(range(-4_000_001, -5_000_000, -1))

    # ------------------------------------------------------------- scenarios

    def basic_group(self, title: str = "Desk") -> FakeChat:
        """A basic (non-super) group, the kind Telegram later upgrades."""
        return self._add_chat(FakeChat(next(self._basic_ids), "group", title=title))

    def make_admin(self, chat: FakeChat, user: FakeUser) -> None:
        """Make `user` an administrator of `chat`."""
        self.admins.setdefault(chat.id, set()).add(user.id)

    def block(self, chat: FakeChat, reason: str = BLOCKED) -> None:
        """The user blocked the bot (or the group removed it): sends get 403."""
        self.blocked[chat.id] = reason

    def upgrade(self, group: FakeChat) -> FakeChat:
        """Upgrade a basic group to a supergroup: queue both service messages, return it."""
        new = self._add_chat(
            FakeChat(int(f"-100{abs(group.id)}"), "supergroup", title=group.title)
        )
        self.migrated[group.id] = new.id
        old_msg = self._store(group, {"migrate_to_chat_id": new.id})
        self.push_update({"message": old_msg.data})
        new_msg = self._store(new, {"migrate_from_chat_id": group.id})
        self.push_update({"message": new_msg.data})
        return new

    def enforce_flood_limits(
        self,
        per_second: float = 30.0,
        per_group_minute: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        minute_s: float = 60.0,
    ) -> FloodLimits:
        """Answer sends (and edits) beyond Telegram's limits with 429 retry_after.

        `minute_s` scales the group window: 6.0 makes "20 a minute" 20 in 6 seconds.
        """
        self.limits = FloodLimits(per_second, per_group_minute, clock, minute_s=minute_s)
        return self.limits

    def photos_in(self, chat: FakeChat) -> list[SentPhoto]:
        """Photos the bot sent to a chat, oldest first."""
        return [p for p in self.photos if p.chat_id == chat.id]

    # ------------------------------------------------------------------ core

    async def call(self, method: str, raw: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Blocked chats, migrated groups and flood limits first, then the strict fake."""
        if method in LIMITED and "chat_id" in raw:
            refusal = self._refuse(method, raw)
            if refusal is not None:
                return refusal
        status, body = await super().call(method, raw)
        if status == 200 and method in SENDING:
            self.delivered += 1
        return status, body

    def _refuse(self, method: str, raw: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
        try:
            chat_id = int(raw["chat_id"])
        except (TypeError, ValueError):
            return None
        error: dict[str, Any] | None = None
        status = 200
        if chat_id in self.blocked:
            status = 403
            error = ApiError(self.blocked[chat_id], 403).payload()
        elif chat_id in self.migrated:
            status = 400
            error = ApiError(UPGRADED).payload()
            error["parameters"] = {"migrate_to_chat_id": self.migrated[chat_id]}
        elif self.limits is not None:
            retry_after = self.limits.check(chat_id)
            if retry_after:
                self.too_many_requests += 1
                status = 429
                error = ApiError(
                    f"Too Many Requests: retry after {retry_after}", 429, retry_after
                ).payload()
        if error is None:
            return None
        self.calls.append(
            ApiCall(
                len(self.calls),
                method,
                {**raw, "chat_id": chat_id},
                status,
                None,
                error["description"],
            )
        )
        self._changed.set()
        return status, error

    def _decode(self, method: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        files = {k for k, kind in self.params.get(method, {}).items() if kind == FILE}
        params = super()._decode(method, {k: v for k, v in raw.items() if k not in files})
        for name in files & raw.keys():
            value = raw[name]
            if isinstance(value, bytes):
                params[name] = value
            else:
                self.failures.append(f"{method}: {name} must be an upload, got {value!r}")
        return params

    async def _http(self, request: web.Request) -> web.Response:
        if request.content_type != "multipart/form-data":
            return await super()._http(request)
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError("Unauthorized", 401).payload(), status=401)
        form = await request.post()
        uploads = {k: v.file.read() for k, v in form.items() if isinstance(v, web.FileField)}
        raw = {k: v for k, v in form.items() if isinstance(v, str)}
        status, body = await self.call(request.match_info["method"], attach(raw, uploads))
        return web.json_response(body, status=status)

    # --------------------------------------------------------------- methods

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        image = params["photo"]
        if not image.startswith(PNG_SIGNATURE):
            raise ApiError("Bad Request: IMAGE_PROCESS_FAILED")
        caption, entities = "", []  # type: tuple[str, list[dict[str, Any]]]
        if params.get("caption"):
            caption, entities = self._render_text({**params, "text": params["caption"]})
            if len(caption) > MAX_CAPTION:
                raise ApiError("Bad Request: message caption is too long")
        thread_id = params.get("message_thread_id")
        if thread_id is not None and not chat.is_forum:
            raise ApiError("Bad Request: message thread not found")
        data: dict[str, Any] = {
            "from": self.bot.to_dict(),
            "photo": [
                {
                    "file_id": f"photo{len(self.photos)}",
                    "file_unique_id": f"u{len(self.photos)}",
                    "width": 1080,
                    "height": 1350,
                }
            ],
        }
        if caption:
            data["caption"] = caption
        if entities:
            data["caption_entities"] = entities
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            data["is_topic_message"] = True
        markup = self._markup(params)
        if markup:
            data["reply_markup"] = markup
        self.photos.append(SentPhoto(chat.id, thread_id, caption, image))
        return self._store(chat, data).data

    async def _get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        user = {"id": params["user_id"], "is_bot": False, "first_name": "Member"}
        if params["user_id"] in self.admins.get(chat.id, set()):
            rights = dict.fromkeys(_ADMIN_RIGHTS, False) | {"can_manage_chat": True}
            return {"status": "administrator", "user": user, **rights}
        return {"status": "member", "user": user}


def attach(raw: Mapping[str, str], uploads: Mapping[str, bytes]) -> dict[str, Any]:
    """Resolve PTB's `attach://name` values to the uploaded bytes."""
    resolved: dict[str, Any] = dict(raw)
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("attach://"):
            resolved[key] = uploads[value.removeprefix("attach://")]
    for key, content in uploads.items():
        if key in raw:
            continue
        if not any(v == f"attach://{key}" for v in raw.values()):
            resolved[key] = content  # a file sent directly under its parameter name
    return resolved


class UploadingRequest(RecordingRequest):
    """RecordingRequest that also hands uploaded files (sendPhoto) to the fake, in-process."""

    def parameters(self, endpoint: str, request_data: RequestData) -> dict[str, Any]:
        """Decode form values and uploads as the HTTP server would."""
        if not request_data.contains_files:
            return super().parameters(endpoint, request_data)
        uploads = {
            name: part[1]
            for name, part in request_data.multipart_data.items()
            if isinstance(part, tuple) and isinstance(part[1], bytes)
        }
        return attach(request_data.json_parameters, uploads)


def bot_messages_text(api: FakeBotAPI, chat: FakeChat) -> list[str]:
    """The texts of the bot's messages in a chat, oldest first."""
    return [m.text for m in api.bot_messages(chat) if m.text]


def last_text(api: FakeBotAPI, chat: FakeChat) -> str:
    """The bot's latest text message in a chat."""
    messages: list[StoredMessage] = [m for m in api.bot_messages(chat) if m.text]
    return messages[-1].text if messages else ""


class GroupsHarness(BotHarness):
    """BotHarness whose requests carry uploads, with the application's clock fixed if given."""

    request_type = UploadingRequest

    def __init__(
        self,
        api: FakeBotAPI,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        *,
        pacer: FloodPacer | None = None,
    ) -> None:
        super().__init__(api, settings, pacer=pacer)
        if clock is not None:
            self.app.bot_data.clock = clock

    async def run_job(self, name: str) -> None:
        """Run one scheduled job's callback now, as the JobQueue would."""
        await run_job(self.app, name)
