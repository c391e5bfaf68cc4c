"""The subscription endpoints of ``thisday serve`` (when ``digest.subscribe`` is on): ``/subscribe``,
``/confirm/<token>`` and ``/unsubscribe/<token>``. HTTP only: reading forms (size cap, urlencoded or multipart),
the client's address (``X-Forwarded-For`` only from ``digest.proxies``), pages and status codes; what they do
is :mod:`thisday.newsletter`. Mounted by :func:`thisday.serve.create_app`.

The clock is read here (as in the daemon): ``thisday serve`` is a long-running process.
"""

from __future__ import annotations

import datetime
import email.parser
import email.policy
import ipaddress
import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from .config import Settings

MAX_BODY = 16 * 1024
"""The largest form body accepted (a bigger one gets 413)."""
HONEYPOT = "website"
"""The form field people leave empty (it is hidden); bots fill it in."""
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class BodyTooLarge(Exception):
    pass


class BadForm(Exception):
    pass


def client_ip(peer: str | None, forwarded_for: str | None, proxies: tuple[str, ...]) -> str | None:
    """The client's address: the peer, unless the peer is a configured proxy; then the right-most
    ``X-Forwarded-For`` entry that is not itself a proxy (what a client writes further left is not believed)."""
    networks = [ipaddress.ip_network(p.strip(), strict=False) for p in proxies]

    def is_proxy(text: str) -> bool:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(address in network for network in networks)

    if peer is None or not forwarded_for or not is_proxy(peer):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header: fall back to what we know
        if not is_proxy(hop):
            return hop
    return peer


async def read_form(request: Request, limit: int = MAX_BODY) -> dict[str, str]:
    """The fields of a urlencoded or multipart/form-data body (first value of each); BodyTooLarge, BadForm."""
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > limit):
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    content_type = request.headers.get("content-type", "").lower()
    fields: dict[str, str] = {}
    if content_type.startswith("multipart/form-data"):
        raw = (
            b"Content-Type: " + request.headers["content-type"].encode("latin-1") + b"\r\n\r\n" + bytes(body)
        )
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        if not parsed.is_multipart():
            raise BadForm("the multipart form could not be read")
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes) and name not in fields:
                fields[name] = payload.decode("utf-8", errors="replace")
        return fields
    if content_type and not content_type.startswith("application/x-www-form-urlencoded"):
        raise BadForm("send the form as application/x-www-form-urlencoded or multipart/form-data")
    try:
        pairs = urllib.parse.parse_qsl(
            bytes(body).decode("utf-8"), keep_blank_values=True, max_num_fields=20, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm("the form could not be read") from None
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def subscription_routes(
    settings: Settings,
    *,
    clock: Callable[[], datetime.datetime] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[BaseRoute]:
    """The routes of the subscription endpoints; the store is opened (and the secret made) here, once."""
    from . import newsletter
    from .site import feed_links

    environ = os.environ if environ is None else environ
    now: Callable[[], datetime.datetime] = clock or (lambda: datetime.datetime.now(datetime.UTC))
    store = newsletter.open_store(settings, environ)
    env = newsletter.template_environment(settings)
    page_values = {
        "site": settings.site,
        "base_url": settings.site.base_url.rstrip("/") + "/",
        "feeds": feed_links(settings),
        "subscribe": True,
        "confirm_days": settings.digest.confirm_days,
    }
    subscribe_text = {
        newsletter.LinkState.FORGED: (
            404,
            "This link is not one of ours, or it was cut short. Copy the whole link from the mail.",
        ),
        newsletter.LinkState.EXPIRED: (
            410,
            "This confirmation link has expired. Subscribe again to get a new one.",
        ),
        newsletter.LinkState.UNKNOWN: (
            404,
            "There is nothing to confirm with this link any more. Subscribe again if you wish.",
        ),
    }

    def page(name: str, root: str, code: int = 200, **values: Any) -> HTMLResponse:
        from . import templates

        html = templates.render(env, f"site/{name}", {**page_values, "root": root, **values})
        return HTMLResponse(html, status_code=code, headers=PAGE_HEADERS)

    def problem(root: str, code: int, message: str) -> HTMLResponse:
        return page("subscribe_error.html", root, code, message=message, status=code)

    def ip_of(request: Request) -> str | None:
        peer = request.client.host if request.client else None
        return client_ip(peer, request.headers.get("x-forwarded-for"), settings.digest.proxies)

    async def form_of(request: Request, root: str) -> dict[str, str] | HTMLResponse:
        try:
            return await read_form(request)
        except BodyTooLarge:
            return problem(root, 413, "That request was far too large for a subscription form.")
        except BadForm as exc:
            return problem(root, 400, f"That request could not be read: {exc}.")

    async def subscribe_endpoint(request: Request) -> Response:
        if request.method != "POST":
            return page("subscribe.html", "", accepted=False)
        form = await form_of(request, "")
        if isinstance(form, HTMLResponse):
            return form
        answer = await run_in_threadpool(
            newsletter.subscribe,
            settings,
            store,
            env,
            form.get("email", ""),
            ip_of(request),
            now(),
            environ,
            honeypot=form.get(HONEYPOT, ""),
            language=form.get("language", ""),
        )
        if answer.outcome == newsletter.Outcome.ACCEPTED:
            return page("subscribe.html", "", accepted=True)
        status = 429 if answer.outcome == newsletter.Outcome.TOO_MANY else 400
        response = problem("", status, answer.detail[:1].upper() + answer.detail[1:] + ".")
        if status == 429:
            response.headers["Retry-After"] = "3600"
        return response

    async def confirm_endpoint(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST":
            form = await form_of(request, "../")
            if isinstance(form, HTMLResponse):
                return form
            state = await run_in_threadpool(newsletter.confirm, settings, store, token, now(), ip_of(request))
            if state == newsletter.LinkState.VALID:
                return page("confirm_done.html", "../")
        else:
            state = await run_in_threadpool(newsletter.check_confirm, settings, store, token, now())
            if state == newsletter.LinkState.VALID:
                return page("confirm.html", "../", token=token)
        status, message = subscribe_text[state]
        return problem("../", status, message)

    async def unsubscribe_endpoint(request: Request) -> Response:
        token = request.path_params["token"]
        if newsletter.check_unsubscribe(store, token) != newsletter.LinkState.VALID:
            return problem("../", 404, subscribe_text[newsletter.LinkState.FORGED][1])
        if request.method != "POST":
            return page("unsubscribe.html", "../", token=token)
        form = await form_of(request, "../")
        if isinstance(form, HTMLResponse):
            return form
        if form.get("List-Unsubscribe") != "One-Click":
            return problem("../", 400, "To unsubscribe, press the button on the page this link opens.")
        how = "one-click" if "from-page" not in form else "link"
        await run_in_threadpool(newsletter.unsubscribe, settings, store, token, now(), how)
        return page("unsubscribe_done.html", "../")

    return [
        Route("/subscribe", subscribe_endpoint, methods=["GET", "POST"]),
        Route("/confirm/{token}", confirm_endpoint, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", unsubscribe_endpoint, methods=["GET", "POST"]),
    ]
