"""How the social channels talk HTTP: secrets from the environment, retries, Retry-After, and what each answer
means for the post (:class:`AuthFailed`, :class:`Refused`, :class:`Transient`, :class:`Unknown`)."""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Callable

import httpx

from ..config import BlueskySettings, MastodonSettings, WebhookSettings
from ..errors import ConfigError, PublishError

Section = MastodonSettings | BlueskySettings | WebhookSettings


# ---------------------------------------------------------------------------------------------
# Outcomes a backend reports


class SocialError(PublishError):
    """A post did not (knowingly) go out."""


class AuthFailed(SocialError):
    """The server refused the credentials (401, an expired token): the channel stops until they are fixed."""


class Refused(SocialError):
    """The server refused this post for good (a 4xx other than 401/429): it is not tried again."""


class Transient(SocialError):
    """The post did not go out for a reason that may pass (5xx, rate limit, network): the next run retries."""


class Unknown(SocialError):
    """The server may have received the post but its answer was lost (a timeout, a dropped connection)."""



def idempotency_key(day: datetime.date, row: str) -> str:
    """A key stable for one post across every retry: sha256 of the day and the post's ledger row."""
    return hashlib.sha256(f"{day.isoformat()}|{row}".encode()).hexdigest()


def secret(env: str, what: str, channel: str) -> str:
    """The secret in the environment variable ``env``; a ConfigError saying what to set when it is missing."""
    value = os.environ.get(env, "").strip()
    if not value:
        raise ConfigError(f"{channel}: the environment variable {env} holding the {what} is not set: export it")
    return value


def retrying(
    send: Callable[[], httpx.Response],
    section: Section,
    sleep: Callable[[float], None],
    what: str,
    *,
    retry_unknown: bool = True,
) -> httpx.Response:
    """``send`` until it is answered with something other than a 5xx or 429 (at most ``retries`` retries).

    429 waits the server's Retry-After (at most ``max_retry_after``: a longer wait is a :class:`Transient`
    failure left for the next run); a 5xx or a timeout waits ``retry_delay``, doubled each time. A timeout
    or a dropped connection on the last try is :class:`Unknown` (the server may have the post); without
    ``retry_unknown`` (a receiver that cannot recognise a repeat) it is :class:`Unknown` at once, never resent.
    """
    delay = section.retry_delay
    for attempt in range(section.retries + 1):
        last = attempt == section.retries
        try:
            response = send()
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if last or not retry_unknown:
                raise Unknown(f"{what}: no answer ({type(exc).__name__}); it may have gone out") from None
            sleep(delay)
            delay *= 2
            continue
        except httpx.HTTPError as exc:  # could not connect: nothing was sent
            if last:
                raise Transient(f"{what}: cannot reach the server ({exc})") from None
            sleep(delay)
            delay *= 2
            continue
        if response.status_code == 429:
            wait = _retry_after(response, delay)
            if last or wait > section.max_retry_after:
                raise Transient(f"{what}: rate limited (429), the server asks to wait {wait:.0f} s; the next run retries")
            sleep(wait)
            continue
        if response.status_code >= 500:
            if last:
                raise Transient(f"{what}: server error {response.status_code}: {_excerpt(response)}")
            sleep(delay)
            delay *= 2
            continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200] if text else response.reason_phrase


def classify(response: httpx.Response, what: str, auth_hint: str) -> None:
    """Raise for a 4xx answer: 401/403 :class:`AuthFailed` (with ``auth_hint``), others :class:`Refused`."""
    if response.status_code in (401, 403):
        raise AuthFailed(f"{what}: {response.status_code} {_excerpt(response)}: {auth_hint}")
    if 400 <= response.status_code < 500:
        raise Refused(f"{what}: refused ({response.status_code}): {_excerpt(response)}")
