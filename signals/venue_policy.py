"""The one request policy every REST call to a venue goes through, live checks and backfill alike.

- **Timeout** per request (`request_timeout_s`), on top of ccxt's own. It counts from the
  moment the request leaves ccxt's rate limiter: a request queued behind a venue's limit
  (many checks at once) is not a hung venue and never cools it down.
- **Retries** only for quick, transient failures (5xx, a refused or reset connection), once,
  and only while the caller's deadline leaves room. A hang, a 429 or a 418 is never retried.
- **Retry-After** is honoured: a 429/418 cools the venue down for the time it asks (60 s / 120 s
  when it does not say), 451 (blocked location) for an hour, a hang for 30 s.
- **Cool-down is shared** by every caller: while a venue cools down no request goes to it and
  the caller gets the reason at once ("HTTP 429, cooling down 60 s"). When the cool-down ends
  the failed request is retried in the background (`revive`), never inside someone's check;
  the venue is used again once that retry answers.
- **Validation at the boundary**: `install` hooks each exchange's HTTP layer
  (`on_rest_response`), so an HTML page with status 200, a truncated or empty body or a
  non-object body is refused before ccxt parses it (the body is parsed once, and ccxt reads
  that parse); `call(validate=…)` then checks what the answer means (an empty list is
  "empty answer to …").

Every failure becomes one `VenueFailure` (a `VenueUnavailable`) whose `detail` is the short
reason the reply and `sources.failed` show.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt
import orjson

from signals.errors import VenueUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

HANG_COOLDOWN_S = 30.0
RATE_LIMIT_DEFAULT_S = 60.0  # a 429 without Retry-After
BAN_DEFAULT_S = 120.0  # a 418 (Binance: IP banned for hammering after 429s) without Retry-After
BLOCKED_COOLDOWN_S = 3600.0  # 451: the venue refuses this location; it will not change soon
RETRY_ATTEMPTS = 2  # the first try and one retry
RETRY_BACKOFF_S = 0.2
# a retry is only started when this much of the caller's budget is left after the backoff
RETRY_MIN_LEFT_S = 1.0
# how often a background retry re-reads the (possibly moved) clock while it waits
REVIVE_POLL_S = 0.25
# a request waits at most this long in ccxt's rate limiter (checks queued behind a venue's
# limit); past it, it is given up like a hang
MAX_QUEUE_S = 60.0
# ccxt's own timeout covers the network exchange; ours is the safety net just behind it
TIMEOUT_MARGIN_S = 0.5


class BoundaryError(Exception):
    """Raised from inside ccxt's HTTP layer by `install`; never leaves `RequestPolicy.call`."""


class RateLimited(BoundaryError, ccxt.RateLimitExceeded):
    """HTTP 429 or 418, with the venue's Retry-After in seconds when it gave one."""

    def __init__(self, status: int, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after_s = retry_after_s


class Blocked(BoundaryError, ccxt.ExchangeNotAvailable):
    """HTTP 451: the venue does not serve this location."""


class ServerError(BoundaryError, ccxt.ExchangeNotAvailable):
    """HTTP 5xx."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class MalformedAnswer(BoundaryError, ccxt.BadResponse):
    """An answer that is not what the endpoint sends: `kind` says how ('HTML page', …)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class EmptyAnswer(ValueError):
    """A well-formed answer without the rows asked for (raised by validators)."""


class VenueFailure(VenueUnavailable):
    """A venue that did not answer usefully; `detail` is the short reason users see."""

    def __init__(self, venue: str, detail: str, *, cooling: bool = False) -> None:
        super().__init__(venue, detail)
        self.cooling = cooling


@dataclass
class _Cooldown:
    until: float  # wall-clock seconds
    reason: str
    probe: Callable[[], Awaitable[Any]] | None = None


def _headers_get(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def retry_after_s(headers: Mapping[str, Any] | None, now: float) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    raw = _headers_get(headers, "retry-after")
    if raw is None or not raw.strip():
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw.strip())
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def body_problem(body: str) -> str | None:
    """Why a 2xx body is not a JSON object or array, or None when it is one."""
    return parse_body(body)[0]


def parse_body(body: str) -> tuple[str | None, Any]:
    """(why a 2xx body is not a JSON object or array, or None; the parsed body)."""
    text = body.strip()
    if not text:
        return "empty body", None
    if text[0] == "<":
        return "HTML page", None
    try:
        parsed = orjson.loads(text)
    except ValueError:
        return ("truncated JSON" if text[0] in "{[" else "not JSON"), None
    if not isinstance(parsed, dict | list):
        return "non-object body", None
    return None, parsed


class _Slot:
    """One request's passage through ccxt's rate limiter: when it queued, when it left."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queued = loop.create_future()
        self.released = loop.create_future()


# the request `call` is running in this task (ccxt's throttle reports to it)
_SLOT: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar("venue_slot", default=None)


def _mark(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class RequestPolicy:
    """Timeout, retries, Retry-After, shared cool-down and answer validation for every venue."""

    def __init__(
        self,
        request_timeout_s: float,
        clock: Callable[[], float] = time.time,
        *,
        revive: bool = True,
    ) -> None:
        self.request_timeout_s = request_timeout_s
        self._clock = clock
        self._revive = revive
        self._cooldowns: dict[str, _Cooldown] = {}
        self._revivers: dict[str, asyncio.Task[None]] = {}
        self.requests: dict[str, int] = {}

    # ---- the HTTP boundary ------------------------------------------------------------

    def install(self, venue: str, exchange: Any) -> Any:
        """Validate every HTTP answer of `exchange` before ccxt reads it; return the exchange.

        Installing twice (the collector and its backfill share exchange objects) is a no-op.
        """
        exchange.timeout = int(self.request_timeout_s * 1000)
        if getattr(exchange, "_preflight_boundary", False) or not hasattr(
            exchange, "on_rest_response"
        ):
            return exchange
        original = exchange.on_rest_response
        original_parse_json = exchange.parse_json
        clock = self._clock
        # the body parsed at the boundary, handed to ccxt's parse_json right after (the two
        # run back to back, with no await between them)
        parsed_last: list[Any] = [None, None]

        def on_rest_response(
            code: Any,
            reason: Any,
            url: Any,
            method: Any,
            headers: Any,
            body: Any,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            text = original(
                code, reason, url, method, headers, body, request_headers, request_body
            )
            status = int(code)
            if status in (429, 418):
                raise RateLimited(status, retry_after_s(headers, clock()))
            if status == 451:
                raise Blocked("HTTP 451")
            if status >= 500:
                raise ServerError(status)
            if 200 <= status < 300:
                problem, parsed = parse_body(text if isinstance(text, str) else "")
                if problem is not None:
                    raise MalformedAnswer(problem)
                parsed_last[0], parsed_last[1] = text, parsed
            return text

        def parse_json(http_response: Any) -> Any:
            text, parsed = parsed_last
            parsed_last[0] = parsed_last[1] = None
            if text is not None and text is http_response:
                return parsed
            return original_parse_json(http_response)

        exchange.on_rest_response = on_rest_response
        exchange.parse_json = parse_json
        throttle = getattr(exchange, "throttle", None)
        if throttle is not None:

            async def throttled(cost: Any = None) -> Any:
                slot = _SLOT.get()
                if slot is not None:
                    _mark(slot.queued)
                try:
                    return await throttle(cost)
                finally:
                    if slot is not None:
                        _mark(slot.released)

            exchange.throttle = throttled
        exchange._preflight_boundary = True
        return exchange

    # ---- cool-down ------------------------------------------------------------------------

    def cooling(self, venue: str) -> str | None:
        """Why `venue` is not asked right now, or None when it may be."""
        state = self._cooldowns.get(venue)
        if state is None:
            return None
        left = state.until - self._clock()
        if left > 0:
            return f"{state.reason}, cooling down {math.ceil(left)} s"
        if self._revive and state.probe is not None:
            return f"{state.reason}; retrying in the background"
        del self._cooldowns[venue]
        return None

    def _cool(
        self,
        venue: str,
        seconds: float,
        reason: str,
        probe: Callable[[], Awaitable[Any]] | None,
    ) -> None:
        until = self._clock() + seconds
        current = self._cooldowns.get(venue)
        if current is not None and current.until > until:
            until = current.until
        self._cooldowns[venue] = _Cooldown(until, reason, probe)
        log.warning("%s: %s; cooling down %.0f s", venue, reason, seconds)
        if self._revive and probe is not None:
            self._start_reviver(venue)

    def _start_reviver(self, venue: str) -> None:
        task = self._revivers.get(venue)
        if task is not None and not task.done():
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule on
            self._revivers[venue] = asyncio.get_running_loop().create_task(
                self._revive_loop(venue), name=f"revive-{venue}"
            )

    async def _revive_loop(self, venue: str) -> None:
        """Retry the venue's failed request once its cool-down is over, until it answers."""
        while True:
            state = self._cooldowns.get(venue)
            if state is None or state.probe is None:
                return
            left = state.until - self._clock()
            if left > 0:
                await asyncio.sleep(min(left, REVIVE_POLL_S))
                continue
            try:
                await state.probe()
            except VenueUnavailable:
                if self._cooldowns.get(venue) is state:  # failed without a new cool-down
                    self._cool(venue, HANG_COOLDOWN_S, state.reason, state.probe)
                continue
            self._cooldowns.pop(venue, None)
            log.info("%s answers again", venue)
            return

    async def aclose(self) -> None:
        """Stop every background retry."""
        tasks = list(self._revivers.values())
        self._revivers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- one call ---------------------------------------------------------------------------

    async def call(
        self,
        venue: str,
        what: str,
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        deadline: float | None = None,
        validate: Callable[[T], R] | None = None,
        absent_on: tuple[type[BaseException], ...] = (),
        probe: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Run one venue request under the policy; return `validate(answer)` (or the answer).

        `deadline` is the caller's budget end on the loop clock: it bounds retries, never a
        request already sent. Exceptions in `absent_on` (e.g. BadRequest: "nothing listed")
        pass through unchanged. Everything else that goes wrong raises `VenueFailure`.
        """
        if not probe:
            reason = self.cooling(venue)
            if reason is not None:
                raise VenueFailure(venue, reason, cooling=True)

        async def again() -> Any:
            return await self.call(
                venue,
                what,
                fn,
                *args,
                validate=validate,
                absent_on=absent_on,
                probe=True,
                **kwargs,
            )

        loop = asyncio.get_running_loop()
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            self.requests[venue] = self.requests.get(venue, 0) + 1
            try:
                answer = await self._send(fn, args, kwargs)
                return validate(answer) if validate is not None else answer
            except absent_on:
                raise
            except (TimeoutError, ccxt.RequestTimeout) as e:
                reason = f"timeout after {self.request_timeout_s:g} s"
                self._cool(venue, HANG_COOLDOWN_S, reason, again)
                raise VenueFailure(venue, reason, cooling=True) from e
            except RateLimited as e:
                default = RATE_LIMIT_DEFAULT_S if e.status == 429 else BAN_DEFAULT_S
                seconds = e.retry_after_s if e.retry_after_s is not None else default
                label = "HTTP 429" if e.status == 429 else "HTTP 418 (IP ban)"
                self._cool(venue, seconds, label, again)
                raise VenueFailure(
                    venue, f"{label}, cooling down {math.ceil(seconds)} s", cooling=True
                ) from e
            except Blocked as e:
                reason = "HTTP 451: not served in this location"
                self._cool(venue, BLOCKED_COOLDOWN_S, reason, again)
                raise VenueFailure(venue, reason, cooling=True) from e
            except MalformedAnswer as e:
                raise VenueFailure(venue, f"malformed answer to {what} ({e.kind})") from e
            except EmptyAnswer as e:
                raise VenueFailure(venue, f"empty answer to {what}") from e
            except ccxt.NetworkError as e:  # 5xx, refused or reset connections
                detail = _transient_reason(e, what)
                left = None if deadline is None else deadline - loop.time()
                room = left is None or left >= RETRY_BACKOFF_S + RETRY_MIN_LEFT_S
                if attempt < RETRY_ATTEMPTS and room:
                    log.info("%s %s: %s, retrying", venue, what, detail)
                    await asyncio.sleep(RETRY_BACKOFF_S)
                    continue
                raise VenueFailure(venue, detail) from e
            except ccxt.BaseError as e:
                log.warning("%s %s failed: %s: %s", venue, what, type(e).__name__, str(e)[:200])
                raise VenueFailure(venue, f"{what}: {type(e).__name__}") from e
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                # ccxt (or the validator) could not read the answer: valid JSON, wrong shape
                log.warning("%s %s: unreadable answer: %r", venue, what, e)
                raise VenueFailure(venue, f"malformed answer to {what} (unreadable)") from e
        raise AssertionError("unreachable: every attempt returns or raises")

    async def _send(
        self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        """Await one request; the timeout starts once it has left ccxt's rate limiter."""
        loop = asyncio.get_running_loop()
        slot = _Slot(loop)
        token = _SLOT.set(slot)
        try:
            task: asyncio.Future[T] = asyncio.ensure_future(fn(*args, **kwargs))
        finally:
            _SLOT.reset(token)
        try:
            started = loop.time()
            # a ccxt call reaches its rate limiter within moments; anything else is timed
            # from the start
            await asyncio.wait(
                {task, slot.queued},
                timeout=self.request_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if task.done():
                return task.result()
            if slot.queued.done():
                await asyncio.wait(
                    {task, slot.released}, timeout=MAX_QUEUE_S, return_when=asyncio.FIRST_COMPLETED
                )
                left = self.request_timeout_s + TIMEOUT_MARGIN_S
            else:
                left = max(0.0, self.request_timeout_s - (loop.time() - started))
            return await asyncio.wait_for(asyncio.shield(task), left)
        except BaseException:
            task.cancel()
            raise

    async def paginate(
        self,
        venue: str,
        what: str,
        fetch_page: Callable[[Any], Awaitable[tuple[list[T], Any]]],
        *,
        start: Any = None,
        max_pages: int = 100,
        deadline: float | None = None,
    ) -> list[T]:
        """Collect pages through the policy: `fetch_page(cursor)` → (rows, next cursor or None).

        Each page is one `call` (so rate limits, cool-downs and validation apply per page);
        a failure raises `VenueFailure` with the rows fetched so far dropped.
        """
        rows: list[T] = []
        cursor = start
        for _ in range(max_pages):
            page, cursor = await self.call(venue, what, fetch_page, cursor, deadline=deadline)
            rows.extend(page)
            if cursor is None:
                break
        return rows


def _transient_reason(error: Exception, what: str) -> str:
    if isinstance(error, ServerError):
        return f"{what}: HTTP {error.status}"
    cause = error.__cause__
    if cause is not None and "connect" in type(cause).__name__.lower():
        return f"{what}: unreachable ({type(cause).__name__})"
    return f"{what}: {type(error).__name__}"
