"""A strict fake Telegram Bot API, served on 127.0.0.1 (aiohttp) or called in-process.

The real `Application` talks to it through `base_url` (HTTP) or through
`tests.helpers.telegram.RecordingRequest` (no sockets). Both paths share `FakeBotAPI.call`, so
both get the same Telegram-shaped results (dates in seconds, per-chat message ids) and the same
Telegram error texts. Anything the fake does not implement — a method, a parameter, a parse
mode — is recorded in `failures` and the `fake_api` fixtures fail the test on it.

Inline mode: `inline_mode = True` (BotFather's /setinline), then `inline_query(user, text)`
queues an inline query; `answerInlineQuery` is validated as Telegram does (at most 50
articles, ids unique and ≤ 64 bytes, a title, message text 1–4096 UTF-16 units of valid
HTML, a cache_time); `inline_results` reads the answer and `choose_inline` posts a result.

Extending it (other features): add a method with `api.methods["sendPhoto"] = handler` where the
handler is `async (api, params) -> result` and raise `ApiError` for Telegram errors; declare
its parameters in `api.params["sendPhoto"] = {"chat_id": "chat_id", "photo": "file", …}`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"
BOT_ID = 123456789

Handler = Callable[["FakeBotAPI", dict[str, Any]], Awaitable[Any]]

# Parameter kinds: how a form value (PTB sends strings, JSON-encoded when not a string) decodes.
STR, INT, BOOL, FLOAT, JSON = "str", "int", "bool", "float", "json"
CHAT_ID, FILE = "chat_id", "file"

# Parameters every sending method shares (groups_api adds sendPhoto on top of them).
SEND_COMMON = {
    "business_connection_id": STR,
    "chat_id": CHAT_ID,
    "message_thread_id": INT,
    "direct_messages_topic_id": INT,
    "disable_notification": BOOL,
    "protect_content": BOOL,
    "allow_paid_broadcast": BOOL,
    "message_effect_id": STR,
    "suggested_post_parameters": JSON,
    "reply_parameters": JSON,
    "reply_markup": JSON,
}

PARAMS: dict[str, dict[str, str]] = {
    "getMe": {},
    "deleteWebhook": {"drop_pending_updates": BOOL},
    "getUpdates": {"offset": INT, "limit": INT, "timeout": INT, "allowed_updates": JSON},
    "setMyCommands": {"commands": JSON, "scope": JSON, "language_code": STR},
    "sendMessage": {
        **SEND_COMMON,
        "text": STR,
        "parse_mode": STR,
        "entities": JSON,
        "link_preview_options": JSON,
    },
    "editMessageText": {
        "business_connection_id": STR,
        "chat_id": CHAT_ID,
        "message_id": INT,
        "inline_message_id": STR,
        "text": STR,
        "parse_mode": STR,
        "entities": JSON,
        "link_preview_options": JSON,
        "reply_markup": JSON,
    },
    "answerCallbackQuery": {
        "callback_query_id": STR,
        "text": STR,
        "show_alert": BOOL,
        "url": STR,
        "cache_time": INT,
    },
    "sendChatAction": {
        "business_connection_id": STR,
        "chat_id": CHAT_ID,
        "message_thread_id": INT,
        "action": STR,
    },
    "answerInlineQuery": {
        "inline_query_id": STR,
        "results": JSON,
        "cache_time": INT,
        "is_personal": BOOL,
        "next_offset": STR,
        "button": JSON,
    },
}

REQUIRED: dict[str, set[str]] = {
    "setMyCommands": {"commands"},
    "sendMessage": {"chat_id", "text"},
    "editMessageText": {"text"},
    "answerCallbackQuery": {"callback_query_id"},
    "sendChatAction": {"chat_id", "action"},
    "answerInlineQuery": {"inline_query_id", "results"},
}

# Telegram's own error texts (the `description` field); PTB strips "Bad Request: ".
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query id is invalid"
CHAT_NOT_FOUND = "Bad Request: chat not found"
MESSAGE_TOO_LONG = "Bad Request: message is too long"
TEXT_EMPTY = "Bad Request: message text is empty"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
CANT_EDIT = "Bad Request: message can't be edited"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"

MAX_TEXT = 4096
MAX_CALLBACK_ANSWER = 200
MAX_CALLBACK_DATA = 64
MAX_INLINE_RESULTS = 50
MAX_INLINE_ID = 64  # bytes
MAX_INLINE_QUERY = 256  # characters Telegram lets a user type after @bot
# fields an article may carry (https://core.telegram.org/bots/api#inlinequeryresultarticle)
ARTICLE_FIELDS = frozenset(
    {
        "type",
        "id",
        "title",
        "input_message_content",
        "reply_markup",
        "url",
        "description",
        "thumbnail_url",
        "thumbnail_width",
        "thumbnail_height",
    }
)
TEXT_CONTENT_FIELDS = frozenset({"message_text", "parse_mode", "entities", "link_preview_options"})

# Tags Telegram's HTML parse mode accepts (https://core.telegram.org/bots/api#html-style).
_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ENTITY_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TOKEN = re.compile(
    r"<(?P<close>/?)(?P<tag>[a-zA-Z][\w-]*)(?P<attrs>[^<>]*)>"
    r"|&(?P<ref>#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);"
    r"|(?P<bad>[<&])"
)
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


class ApiError(Exception):
    """A Telegram error response: HTTP status = error_code, plus the description."""

    def __init__(self, description: str, code: int = 400, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts offsets and limits in."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML into (plain text, entities) or raise ApiError as Telegram does."""
    plain: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []
    offset = 0  # UTF-16 units emitted so far
    pos = 0

    def emit(text: str) -> None:
        nonlocal offset
        plain.append(text)
        offset += utf16_len(text)

    def fail(problem: str, at: int) -> ApiError:
        byte = len(source[:at].encode("utf-8"))
        return ApiError(f"Bad Request: can't parse entities: {problem} at byte offset {byte}")

    for match in _HTML_TOKEN.finditer(source):
        emit(source[pos : match.start()])
        pos = match.end()
        if match.group("bad"):
            char = match.group("bad")
            if char == "<":
                raise fail("Unsupported start tag", match.start())
            raise fail("Character '&' is reserved and must be escaped as &amp;", match.start())
        if match.group("ref"):
            emit(_decode_ref(match.group("ref"), fail, match.start()))
            continue
        tag = match.group("tag").lower()
        if tag not in _TAG_ENTITY:
            kind = "end" if match.group("close") else "start"
            raise fail(f'Unsupported {kind} tag "{tag}"', match.start())
        if match.group("close"):
            if not stack or stack[-1][0] != tag:
                raise fail(f'Unmatched end tag "{tag}"', match.start())
            _, start, entity = stack.pop()
            if offset > start:
                entities.append({**entity, "offset": start, "length": offset - start})
            continue
        entity = {"type": _TAG_ENTITY[tag]}
        if tag == "a":
            href = re.search(r'href\s*=\s*"([^"]*)"', match.group("attrs"))
            if not href:
                raise fail('Can\'t find "href" attribute of tag "a"', match.start())
            entity["url"] = href.group(1)
        stack.append((tag, offset, entity))
    emit(source[pos:])
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"', len(source))
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _decode_ref(ref: str, fail: Callable[[str, int], ApiError], at: int) -> str:
    if ref.startswith("#x"):
        return chr(int(ref[2:], 16))
    if ref.startswith("#"):
        return chr(int(ref[1:]))
    if ref in _ENTITY_REFS:
        return _ENTITY_REFS[ref]
    raise fail(f'Unsupported HTML entity "&{ref};"', at)


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entities Telegram marks in a user's text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group(0)),
        }
        for m in _COMMAND.finditer(text)
    ]


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user."""

    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Telegram's `User` object."""
        data: dict[str, Any] = {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
        }
        if self.username:
            data["username"] = self.username
        return data


@dataclass(frozen=True)
class FakeChat:
    """A Telegram chat: private (id = user id), group or supergroup (negative ids)."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    is_forum: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Telegram's `Chat` object."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "username"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class StoredMessage:
    """A message as the fake server holds it (the current version after edits)."""

    chat: FakeChat
    message_id: int
    data: dict[str, Any]
    html: str | None = None
    edits: int = 0

    @property
    def text(self) -> str:
        """The plain text as a Telegram client shows it."""
        return str(self.data.get("text", ""))

    @property
    def from_bot(self) -> bool:
        """Whether the bot sent it."""
        return bool(self.data.get("from", {}).get("is_bot"))

    @property
    def thread_id(self) -> int | None:
        """The forum topic it lives in."""
        return self.data.get("message_thread_id")

    @property
    def reply_to_id(self) -> int | None:
        """The id of the message it replies to (quotes)."""
        replied = self.data.get("reply_to_message")
        return replied["message_id"] if replied else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Its inline keyboard buttons, row after row."""
        markup = self.data.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def button_texts(self) -> list[str]:
        """The labels of its inline buttons."""
        return [b["text"] for b in self.buttons]


@dataclass
class ApiCall:
    """One request the bot made, decoded, and what the fake answered."""

    index: int
    method: str
    params: dict[str, Any]
    status: int = 200
    result: Any = None
    error: str | None = None


@dataclass
class _Query:
    id: str
    created: float
    answered: bool = False
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InlineResult:
    """One article of an inline answer, as a Telegram client lists it and would send it."""

    id: str
    title: str
    description: str | None
    text: str  # the message it sends, as shown (HTML parsed)
    html: str
    entities: list[dict[str, Any]]


class FakeBotAPI:
    """Telegram Bot API state machine plus an optional aiohttp server on 127.0.0.1."""

    def __init__(self, token: str = DEFAULT_TOKEN, username: str = "PreflightTestBot") -> None:
        self.token = token
        self.bot = FakeUser(BOT_ID, "Preflight", username=username, is_bot=True)
        self.params: dict[str, dict[str, str]] = {k: dict(v) for k, v in PARAMS.items()}
        self.required: dict[str, set[str]] = {k: set(v) for k, v in REQUIRED.items()}
        self.methods: dict[str, Handler] = {
            "getMe": FakeBotAPI._get_me,
            "deleteWebhook": FakeBotAPI._true,
            "getUpdates": FakeBotAPI._get_updates,
            "setMyCommands": FakeBotAPI._set_my_commands,
            "sendMessage": FakeBotAPI._send_message,
            "editMessageText": FakeBotAPI._edit_message_text,
            "answerCallbackQuery": FakeBotAPI._answer_callback_query,
            "sendChatAction": FakeBotAPI._send_chat_action,
            "answerInlineQuery": FakeBotAPI._answer_inline_query,
        }
        self.calls: list[ApiCall] = []
        self.failures: list[str] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.chats: dict[int, FakeChat] = {}
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.query_timeout_s = 15.0
        # BotFather's /setinline: off until a test (or an operator) switches it on
        self.inline_mode = False
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self.long_poll_cap_s = 1.0
        self._next_message_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(1001)
        self._group_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._queries: dict[str, _Query] = {}
        self._floods: dict[str, list[int]] = {}
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ---------------------------------------------------------------- server

    async def start(self) -> None:
        """Serve the API on 127.0.0.1 at a free port."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._http)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving."""
        self._changed.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """What to pass to `ApplicationBuilder.base_url` (and TELEGRAM_API_BASE_URL)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def _http(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            body = ApiError("Unauthorized", 401).payload()
            return web.json_response(body, status=401)
        if request.content_type == "application/json":
            raw = {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in (await request.json()).items()
            }
        else:
            form = await request.post()
            raw = {k: v for k, v in form.items() if isinstance(v, str)}
            if len(raw) != len(form):
                self.failures.append(f"{request.match_info['method']}: file uploads not faked")
        status, body = await self.call(request.match_info["method"], raw)
        return web.json_response(body, status=status)

    # ------------------------------------------------------------------ core

    async def call(self, method: str, raw: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """Handle one Bot API request given as PTB's form values; return (status, body)."""
        record = ApiCall(len(self.calls), method, {})
        self.calls.append(record)
        try:
            handler = self.methods.get(method)
            if handler is None:
                self.failures.append(f"the bot called {method}, which the fake does not implement")
                raise ApiError("Not Found", 404)
            record.params = self._decode(method, raw)
            missing = self.required.get(method, set()) - record.params.keys()
            if missing:
                self.failures.append(f"{method}: missing required {sorted(missing)}")
                raise ApiError(f"Bad Request: {sorted(missing)[0]} is empty")
            flood = self._floods.get(method)
            if flood:
                retry_after = flood.pop(0)
                raise ApiError(f"Too Many Requests: retry after {retry_after}", 429, retry_after)
            record.result = await handler(self, record.params)
        except ApiError as e:
            record.status, record.error = e.code, e.description
            self._changed.set()
            return e.code, e.payload()
        self._changed.set()
        return 200, {"ok": True, "result": record.result}

    def _decode(self, method: str, raw: Mapping[str, str]) -> dict[str, Any]:
        spec = self.params.get(method, {})
        params: dict[str, Any] = {}
        for name, value in raw.items():
            kind = spec.get(name)
            if kind is None:
                self.failures.append(f"{method}: unexpected parameter {name}={value!r}")
                continue
            try:
                params[name] = _decode_value(kind, value)
            except (ValueError, TypeError):
                self.failures.append(f"{method}: bad {kind} value for {name}: {value!r}")
        return params

    # ------------------------------------------------------------- scenarios

    def user(self, first_name: str = "Alice", username: str | None = None) -> FakeUser:
        """A new human user."""
        return FakeUser(next(self._user_ids), first_name, username=username)

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The private chat between `user` and the bot."""
        chat = FakeChat(user.id, "private", first_name=user.first_name, username=user.username)
        return self._add_chat(chat)

    def group_chat(self, title: str = "Traders", forum: bool = False) -> FakeChat:
        """A supergroup the bot is in (a forum when `forum`)."""
        chat_id = -1001000000000 - next(self._group_ids)
        return self._add_chat(FakeChat(chat_id, "supergroup", title=title, is_forum=forum))

    def _add_chat(self, chat: FakeChat) -> FakeChat:
        self.chats[chat.id] = chat
        self.messages.setdefault(chat.id, {})
        self._next_message_id.setdefault(chat.id, 1)
        return chat

    def user_message(
        self, chat: FakeChat, user: FakeUser, text: str, thread_id: int | None = None
    ) -> StoredMessage:
        """A user sends `text` (commands get bot_command entities); queue the update."""
        data: dict[str, Any] = {"from": user.to_dict(), "text": text}
        entities = command_entities(text)
        if entities:
            data["entities"] = entities
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            data["is_topic_message"] = True
        message = self._store(chat, data)
        self.push_update({"message": message.data})
        return message

    def user_photo(
        self, chat: FakeChat, user: FakeUser, caption: str, thread_id: int | None = None
    ) -> StoredMessage:
        """A user sends a photo with `caption` (a command in it is marked, as Telegram does)."""
        data: dict[str, Any] = {
            "from": user.to_dict(),
            "photo": [
                {"file_id": "userphoto", "file_unique_id": "up", "width": 800, "height": 600}
            ],
            "caption": caption,
        }
        entities = command_entities(caption)
        if entities:
            data["caption_entities"] = entities
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            data["is_topic_message"] = True
        message = self._store(chat, data)
        self.push_update({"message": message.data})
        return message

    def press(
        self,
        message: StoredMessage,
        user: FakeUser,
        text: str | None = None,
        inaccessible: bool = False,
    ) -> str:
        """A user presses the inline button labelled `text` (or the only one); return query id.

        `inaccessible`: Telegram no longer shows the bot the message (it sends date 0).
        """
        buttons = message.buttons
        chosen = [b for b in buttons if text is None or b["text"] == text]
        if len(chosen) != 1:
            raise AssertionError(f"no single button {text!r} among {message.button_texts}")
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(query_id, time.monotonic())
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "message": (
                {"chat": message.chat.to_dict(), "message_id": message.message_id, "date": 0}
                if inaccessible
                else message.data
            ),
            "chat_instance": str(message.chat.id * 7),
            "data": chosen[0]["callback_data"],
        }
        self.push_update({"callback_query": query})
        return query_id

    def seed_bot_message(
        self,
        chat: FakeChat,
        text: str,
        buttons: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ) -> StoredMessage:
        """A message the bot sent earlier (e.g. before a restart), with (label, data) buttons."""
        data: dict[str, Any] = {"from": self.bot.to_dict(), "text": text}
        if buttons:
            row = [{"text": label, "callback_data": cb} for label, cb in buttons]
            data["reply_markup"] = {"inline_keyboard": [row]}
        return self._store(chat, data, text)

    def age_query(self, query_id: str, seconds: float) -> None:
        """Make a callback query look `seconds` older (to hit "query is too old")."""
        self._queries[query_id].created -= seconds

    def inline_query(self, user: FakeUser, text: str, chat_type: str = "sender") -> str:
        """A user types `@bot text` in a chat of `chat_type`; return the inline query's id.

        Telegram sends inline queries only to bots with inline mode on (BotFather's
        /setinline), so asking without `inline_mode` fails the test.
        """
        if not self.inline_mode:
            self.failures.append("an inline query to a bot whose inline mode is off")
        text = text[:MAX_INLINE_QUERY]
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(query_id, time.monotonic())
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "query": text,
            "offset": "",
            "chat_type": chat_type,
        }
        self.push_update({"inline_query": query})
        return query_id

    def inline_results(self, query_id: str) -> list[InlineResult]:
        """The articles the bot answered an inline query with (validated when answered)."""
        answer = self.inline_answers.get(query_id)
        if answer is None:
            raise AssertionError(f"inline query {query_id} was not answered")
        out = []
        for result in answer["results"]:
            content = result["input_message_content"]
            plain, entities = self._render_text(
                {"text": content["message_text"], "parse_mode": content.get("parse_mode")}
            )
            out.append(
                InlineResult(
                    result["id"],
                    result["title"],
                    result.get("description"),
                    plain,
                    content["message_text"],
                    entities,
                )
            )
        return out

    def choose_inline(
        self, query_id: str, result_id: str, chat: FakeChat, user: FakeUser
    ) -> StoredMessage:
        """The user picks a result: it is posted in `chat` as theirs, "via" the bot.

        The bot sees it only where it would: its private chat with the user, or a group it
        is in (bots in privacy mode still get messages sent via themselves).
        """
        [result] = [r for r in self.inline_results(query_id) if r.id == result_id]
        data: dict[str, Any] = {
            "from": user.to_dict(),
            "text": result.text,
            "via_bot": self.bot.to_dict(),
        }
        if result.entities:
            data["entities"] = result.entities
        self.chats.setdefault(chat.id, chat)
        self.messages.setdefault(chat.id, {})
        self._next_message_id.setdefault(chat.id, 1)
        message = self._store(chat, data)
        self.push_update({"message": message.data})
        return message

    def answer_of(self, query_id: str) -> dict[str, Any] | None:
        """The bot's answerCallbackQuery parameters for a query, if answered."""
        query = self._queries[query_id]
        return query.answer if query.answered else None

    def flood(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 Too Many Requests."""
        self._floods.setdefault(method, []).extend([retry_after] * times)

    def push_update(self, payload: dict[str, Any]) -> int:
        """Queue a raw update for getUpdates; return its update_id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **payload})
        self._changed.set()
        return update_id

    def next_update(self) -> dict[str, Any]:
        """Take the oldest queued update (for feeding `process_update` directly)."""
        return self._updates.pop(0)

    def bot_messages(self, chat: FakeChat) -> list[StoredMessage]:
        """The bot's messages in a chat, oldest first (current text after edits)."""
        return [m for m in self.messages[chat.id].values() if m.from_bot]

    def calls_of(self, method: str) -> list[ApiCall]:
        """Every call of one method, in order."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, found: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `found()` returns something truthy (re-checked after every call)."""
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                value = found()
                if value:
                    return value
                await self._changed.wait()

    async def reply_to(
        self,
        message: StoredMessage,
        until: Callable[[StoredMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> StoredMessage:
        """Wait for the bot's message answering `message` (and, optionally, for a state)."""

        def found() -> StoredMessage | None:
            for m in self.bot_messages(message.chat):
                if m.message_id > message.message_id and (until is None or until(m)):
                    return m
            return None

        return await self.wait_for(found, timeout)

    # --------------------------------------------------------------- methods

    def _chat(self, chat_id: Any) -> FakeChat:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError(CHAT_NOT_FOUND)
        return chat

    def _store(
        self, chat: FakeChat, data: dict[str, Any], html: str | None = None
    ) -> StoredMessage:
        message_id = self._next_message_id[chat.id]
        self._next_message_id[chat.id] += 1
        data = {"message_id": message_id, "date": int(time.time()), "chat": chat.to_dict(), **data}
        stored = StoredMessage(chat, message_id, data, html)
        self.messages[chat.id][message_id] = stored
        return stored

    def _render_text(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        source = params.get("text", "")
        mode = params.get("parse_mode")
        if mode is None:
            plain, entities = source, list[dict[str, Any]]()
        elif mode == "HTML":
            plain, entities = parse_html(source)
        else:
            self.failures.append(f"parse_mode {mode!r} is not faked (the bot uses HTML)")
            raise ApiError(f"Bad Request: unsupported parse_mode {mode}")
        if not plain.strip():
            raise ApiError(TEXT_EMPTY)
        if utf16_len(plain) > MAX_TEXT:
            raise ApiError(MESSAGE_TOO_LONG)
        return plain, entities

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        rows = markup.get("inline_keyboard")
        if not isinstance(rows, list):
            self.failures.append(f"only inline keyboards are faked, got {markup!r}")
            return None
        for button in (b for row in rows for b in row):
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                raise ApiError(BUTTON_DATA_INVALID)
            if not button.get("text"):
                raise ApiError("Bad Request: inline keyboard button text is empty")
        return markup

    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.inline_mode,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        if offset is not None and offset < 0:
            self.failures.append("getUpdates with a negative offset is not faked")
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = params.get("limit") or 100
        timeout = min(float(params.get("timeout") or 0), self.long_poll_cap_s)
        if not self._updates and timeout > 0:
            try:
                async with asyncio.timeout(timeout):
                    while not self._updates:
                        self._changed.clear()
                        await self._changed.wait()
            except TimeoutError:
                pass
        allowed = params.get("allowed_updates")
        batch = self._updates[:limit]
        if allowed:
            batch = [u for u in batch if any(k in u for k in allowed)]
        return batch

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params["commands"]
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise ApiError("Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        scope = params.get("scope") or {"type": "default"}
        self.commands[scope["type"]] = commands
        return True

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        plain, entities = self._render_text(params)
        data: dict[str, Any] = {"from": self.bot.to_dict(), "text": plain}
        if entities:
            data["entities"] = entities
        thread_id = params.get("message_thread_id")
        reply = params.get("reply_parameters")
        if reply is not None:
            replied = self.messages[chat.id].get(reply.get("message_id"))
            if replied is None and not reply.get("allow_sending_without_reply"):
                raise ApiError(REPLY_NOT_FOUND)
            if replied is not None:
                data["reply_to_message"] = {
                    k: v for k, v in replied.data.items() if k != "reply_to_message"
                }
                if thread_id is None and chat.is_forum:
                    # in forums a reply lands in the replied message's topic
                    thread_id = replied.thread_id
        if thread_id is not None:
            if not chat.is_forum:
                raise ApiError(THREAD_NOT_FOUND)
            data["message_thread_id"] = thread_id
            data["is_topic_message"] = True
        markup = self._markup(params)
        if markup:
            data["reply_markup"] = markup
        return self._store(chat, data, params.get("text")).data

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        if "inline_message_id" in params:
            self.failures.append("editMessageText of inline messages is not faked")
            raise ApiError(EDIT_NOT_FOUND)
        chat = self._chat(params.get("chat_id"))
        message_id = params.get("message_id")
        message = self.messages[chat.id].get(message_id) if isinstance(message_id, int) else None
        if message is None:
            raise ApiError(EDIT_NOT_FOUND)
        if not message.from_bot:
            raise ApiError(CANT_EDIT)
        plain, entities = self._render_text(params)
        markup = self._markup(params)
        unchanged = (
            plain == message.text
            and entities == message.data.get("entities", [])
            and markup == message.data.get("reply_markup")
        )
        if unchanged:
            raise ApiError(NOT_MODIFIED)
        data = {k: v for k, v in message.data.items() if k not in {"entities", "reply_markup"}}
        data.update(text=plain, edit_date=int(time.time()))
        if entities:
            data["entities"] = entities
        if markup:
            data["reply_markup"] = markup
        message.data, message.html = data, params["text"]
        message.edits += 1
        return data

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query = self._queries.get(params["callback_query_id"])
        expired = query is None or time.monotonic() - query.created > self.query_timeout_s
        if query is None or query.answered or expired:
            raise ApiError(QUERY_TOO_OLD)
        if len(params.get("text", "")) > MAX_CALLBACK_ANSWER:
            raise ApiError("Bad Request: MESSAGE_TOO_LONG")
        query.answered, query.answer = True, params
        return True

    async def _answer_inline_query(self, params: dict[str, Any]) -> bool:
        query = self._queries.get(params["inline_query_id"])
        expired = query is None or time.monotonic() - query.created > self.query_timeout_s
        if query is None or query.answered or expired:
            raise ApiError(QUERY_TOO_OLD)
        results = params["results"]
        if not isinstance(results, list):
            raise ApiError("Bad Request: can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise ApiError("Bad Request: RESULTS_TOO_MUCH")
        ids: set[str] = set()
        for result in results:
            self._check_article(result, ids)
        cache_time = params.get("cache_time")
        if cache_time is None:
            # Telegram then caches the answer for 300 s: far longer than the data lives
            self.failures.append("answerInlineQuery without cache_time (Telegram caches 300 s)")
        elif cache_time < 0:
            raise ApiError("Bad Request: CACHE_TIME_INVALID")
        if len(params.get("next_offset", "").encode("utf-8")) > 64:
            raise ApiError("Bad Request: NEXT_OFFSET_INVALID")
        query.answered, query.answer = True, params
        self.inline_answers[query.id] = params
        return True

    def _check_article(self, result: Any, ids: set[str]) -> None:
        """Telegram's checks of one InlineQueryResultArticle (the only kind the bot sends)."""
        if not isinstance(result, dict) or result.get("type") != "article":
            self.failures.append(f"inline result {result!r}: only articles are faked")
            raise ApiError("Bad Request: RESULT_TYPE_INVALID")
        unknown = set(result) - ARTICLE_FIELDS
        if unknown:
            self.failures.append(f"inline article with unknown fields {sorted(unknown)}")
        for name in ("id", "title", "input_message_content"):
            if name not in result:
                raise ApiError(
                    f"Bad Request: can't parse inline query result: Can't find field \"{name}\""
                )
        result_id = result["id"]
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_INLINE_ID:
            raise ApiError("Bad Request: RESULT_ID_INVALID")
        if result_id in ids:
            raise ApiError("Bad Request: RESULT_ID_DUPLICATE")
        ids.add(result_id)
        if not str(result["title"]).strip():
            raise ApiError("Bad Request: RESULT_TITLE_EMPTY")
        content = result["input_message_content"]
        if not isinstance(content, dict) or "message_text" not in content:
            self.failures.append(f"inline article content {content!r}: only text is faked")
            raise ApiError("Bad Request: RESULT_TYPE_INVALID")
        unknown = set(content) - TEXT_CONTENT_FIELDS
        if unknown:
            self.failures.append(f"inline message content with unknown fields {sorted(unknown)}")
        text = {"text": content["message_text"], "parse_mode": content.get("parse_mode")}
        try:
            self._render_text(text)
        except ApiError as e:
            if e.description == TEXT_EMPTY:
                raise ApiError("Bad Request: MESSAGE_EMPTY") from e
            if e.description == MESSAGE_TOO_LONG:
                raise ApiError("Bad Request: MESSAGE_TOO_LONG") from e
            raise
        self._markup({"reply_markup": result.get("reply_markup")})

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params["chat_id"])
        self.chat_actions.append((chat.id, params["action"]))
        return True


def _decode_value(kind: str, value: str) -> Any:
    if kind == STR:
        return value
    if kind == CHAT_ID:
        return int(value) if re.fullmatch(r"-?\d+", value) else value
    decoded = json.loads(value)
    expected: dict[str, type | tuple[type, ...]] = {
        INT: int,
        BOOL: bool,
        FLOAT: (int, float),
        JSON: (dict, list),
    }
    if kind in expected and (
        not isinstance(decoded, expected[kind]) or (kind == INT and isinstance(decoded, bool))
    ):
        raise TypeError(kind)
    return decoded
