"""The strict fake Bot API, extended for groups, charts and broadcasts.

Adds what daily summaries and stress warnings use: `sendPhoto` (multipart uploads, over HTTP
and in-process), `getChatMember` with per-chat admin lists, chats that blocked the bot
(403 Forbidden), basic groups that migrate to supergroups, and Telegram's flood limits —
about 30 messages per second overall and 20 per minute in a group — answered with
429 `retry_after` like the real server.

Telegram does not publish its exact algorithm; the limits are modelled as token buckets
holding one second's (one minute's, for groups) worth of messages, which is what its FAQ
describes ("no more than 30 messages per second", "no more than 20 messages per minute").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from telegram.request import RequestData

from handlers.groups import CLOCK
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
class Bucket:
    """A token bucket: `capacity` messages, refilled at `rate` per second."""

    capacity: float
    rate: float
    tokens: float = field(default=-1.0)
    stamp: float = 0.0

    def take(self, now: float) -> float:
        """Take one token; return 0 on success, else the seconds until one is available."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class FloodLimits:
    """Telegram's flood limits for sending methods."""

    per_second: float = 30.0
    per_group_minute: float = 20.0
    clock: Callable[[], float] = time.monotonic
    overall: Bucket = field(init=False)
    groups: dict[int, Bucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.overall = Bucket(self.per_second, self.per_second)

    def check(self, chat_id: int) -> int:
        """0 when a message to `chat_id` may go now, else Telegram's retry_after (s)."""
        now = self.clock()
        if chat_id < 0:
            bucket = self.groups.setdefault(
                chat_id, Bucket(self.per_group_minute, self.per_group_minute / 60.0)
            )
            wait = bucket.take(now)
            if wait:
                return max(1, math.ceil(wait))
        wait = self.overall.take(now)
        return max(1, math.ceil(wait)) if wait else 0


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
    ) -> FloodLimits:
        """Answer sends beyond Telegram's limits with 429 retry_after."""
        self.limits = FloodLimits(per_second, per_group_minute, clock)
        return self.limits

    def photos_in(self, chat: FakeChat) -> list[SentPhoto]:
        """Photos the bot sent to a chat, oldest first."""
        return [p for p in self.photos if p.chat_id == chat.id]

    # ------------------------------------------------------------------ core

    async def call(self, method: str, raw: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Blocked chats, migrated groups and flood limits first, then the strict fake."""
        if method in SENDING and "chat_id" in raw:
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
    ) -> None:
        super().__init__(api, settings)
        if clock is not None:
            self.app.bot_data[CLOCK] = clock

    async def run_job(self, name: str) -> None:
        """Run one scheduled job's callback now, as the JobQueue would."""
        await run_job(self.app, name)
