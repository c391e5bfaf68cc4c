"""One frozen :class:`Settings`, read from ``thisday.toml`` with defaults for everything.

Paths in the file are relative to the file's own folder. Unknown keys are errors (with the closest known
key suggested), so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import tomllib
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from .errors import ConfigError, suggest
from .model import Feb29Policy, Kind

DEFAULT_CONFIG_NAME = "thisday.toml"
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
T = TypeVar("T")


@dataclass(frozen=True)
class SiteSettings:
    title: str = "On this day"
    description: str = "What happened on this day in history, published every day."
    base_url: str = "http://localhost:8080/"
    author: str = "thisday"
    author_email: str = ""
    language: str = "en"
    """The default language: the site's root pages, feeds without their own, the digest (a shipped code)."""
    languages: tuple[str, ...] = ()
    """Every language the site is published in; each but ``language`` gets its own folder (``/de/``)."""
    websub_hub: str = ""
    """A WebSub hub (``https://hub.example/``): feeds then carry ``rel="hub"`` links and each change is pinged."""
    calendar_years: int = 10
    """How many years (from the build's year) the calendars and the day API list moveable observances for."""


@dataclass(frozen=True)
class SelectionSettings:
    limit: int = 0
    """Most entries per day (0: no limit). Featured entries and round anniversaries are kept first."""
    feb29: Feb29Policy = Feb29Policy.FEB28
    round: str | tuple[int, ...] = "wikipedia"
    """Which anniversaries are round: "wikipedia" (under 100 years multiples of 10 and 25, then of 25),
    "classic" (10 and multiples of 25), or a list of year counts such as [50, 100, 150]."""


@dataclass(frozen=True)
class FeedSettings:
    name: str = "onthisday"
    title: str = ""
    description: str = ""
    kinds: tuple[Kind, ...] = ()
    tags: tuple[str, ...] = ()
    items: Literal["day", "entry"] = "day"
    """'day': one item per day with the whole selection; 'entry': one item per entry."""
    days: int = 14
    """How many recent days the feed keeps (the rolling window)."""
    language: str = ""
    """The feed's language (empty: ``site.language``)."""
    untranslated: Literal["fallback", "omit"] = "fallback"
    """An entry with no translation into the feed's language: shown as written ('fallback') or left out ('omit')."""


@dataclass(frozen=True)
class DigestSettings:
    sender: str = "On this day <onthisday@localhost>"
    recipients: tuple[str, ...] = ()
    recipients_file: Path | None = None
    list_id: str = ""
    unsubscribe_url: str = ""
    unsubscribe_text: str = "You receive this because you subscribed to the daily digest."
    catch_up: Literal["latest", "all", "none"] = "latest"
    """After downtime: 'latest' (only today's digest), 'all' (every missed day), 'none'."""
    subscribe: bool = False
    """Let readers subscribe on the site: ``thisday serve`` answers /subscribe, /confirm/ and /unsubscribe/."""
    return_path: str = ""
    """Envelope sender (where bounces go), e.g. bounces@example.org; empty: the sender's address."""
    confirm_days: int = 7
    """How long a confirmation link stays valid, in days."""
    proxies: tuple[str, ...] = ()
    """Reverse proxies (IP addresses or networks) whose X-Forwarded-For is believed; no one else's is."""
    mails_per_address: int = 3
    """Most confirmation mails to one address per day (and never more than one per hour)."""
    requests_per_ip: int = 10
    """Most subscription requests from one client IP address per hour; more get 429."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: Literal["none", "starttls", "tls"] = "none"
    """'none', 'starttls' or 'tls' (implicit TLS, usually port 465)."""
    username: str = ""
    password_env: str = "THISDAY_SMTP_PASSWORD"
    timeout: float = 30.0
    retries: int = 3
    retry_delay: float = 5.0
    connections: int = 2
    """How many SMTP connections send a digest in parallel."""
    rate: float = 0.0
    """At most this many messages a second (0: no limit), for providers that impose one."""


@dataclass(frozen=True)
class DaemonSettings:
    time: datetime.time = datetime.time(6, 0)
    """The local time of the daily publication (``"06:00"`` in thisday.toml)."""
    catch_up_days: int = 7
    ledger_url: str = ""
    """SQLAlchemy URL of the publication ledger; default: SQLite in the state folder."""


@dataclass(frozen=True)
class ChannelSettings:
    """What every posting channel (``[mastodon]``, ``[bluesky]``, ``[[webhooks]]``) shares: filters, catch-up and
    retries."""

    kinds: tuple[Kind, ...] = ()
    tags: tuple[str, ...] = ()
    catch_up: Literal["latest", "all", "none"] = "latest"
    timeout: float = 30.0
    retries: int = 3
    retry_delay: float = 5.0
    max_retry_after: float = 300.0
    """The longest Retry-After (seconds) waited for within a run; a longer one leaves the post for the next run."""


@dataclass(frozen=True)
class PostingSettings(ChannelSettings):
    """What the social networks (``[mastodon]``, ``[bluesky]``) add: the posts' language, and when and how many."""

    language: str = ""
    """ISO 639 code of the posts; empty: site.language."""
    mode: Literal["day", "entries"] = "day"
    times: tuple[datetime.time, ...] = ()
    window: str = ""
    thread: bool = False


@dataclass(frozen=True)
class MastodonSettings(PostingSettings):
    """``[mastodon]``: post each day to a Mastodon account (see the README's Social channels)."""

    instance: str = ""
    """The server's URL, e.g. https://mastodon.social."""
    token_env: str = "THISDAY_MASTODON_TOKEN"
    """The environment variable that holds the access token (never the token itself)."""
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    max_characters: int = 0
    """0: read the limit from the instance (/api/v2/instance), 500 when it does not say."""


@dataclass(frozen=True)
class BlueskySettings(PostingSettings):
    """``[bluesky]``: post each day through the AT Protocol (see the README's Social channels)."""

    service: str = "https://bsky.social"
    handle: str = ""
    password_env: str = "THISDAY_BLUESKY_PASSWORD"
    """The environment variable that holds an app password."""
    link_card: bool = True


@dataclass(frozen=True)
class WebhookSettings(ChannelSettings):
    """One ``[[webhooks]]`` table: a POST per day to ``url``."""

    name: str = ""
    url: str = ""
    format: Literal["json", "discord", "slack"] = "json"
    secret_env: str = ""
    """The environment variable holding the Standard Webhooks secret (``whsec_...``); empty: unsigned."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, frozen. Build with :func:`load_settings` or ``Settings()`` for defaults."""

    entries: Path = Path("entries")
    feeds_dir: Path = Path("feeds")
    state_dir: Path = Path("state")
    templates: Path | None = None
    timezone: str = ""
    """IANA zone name; empty means the machine's own zone."""
    site: SiteSettings = field(default_factory=SiteSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    feeds: tuple[FeedSettings, ...] = (FeedSettings(),)
    digest: DigestSettings = field(default_factory=DigestSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    mastodon: MastodonSettings | None = None
    """None: no Mastodon channel (a ``[mastodon]`` table turns it on)."""
    bluesky: BlueskySettings | None = None
    webhooks: tuple[WebhookSettings, ...] = ()
    source: Path | None = None
    """The file these settings were read from, if any."""
    zone: zoneinfo.ZoneInfo = field(init=False, compare=False, repr=False)
    """The zone, resolved once when the settings are made: ``timezone``, else the machine's zone."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", resolve_zone(self.timezone, self.source))

    def ledger_url(self) -> str:
        return self.daemon.ledger_url or f"sqlite:///{(self.state_dir / 'ledger.sqlite').as_posix()}"


def resolve_zone(name: str, source: Path | None = None) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (empty: the machine's zone); a ConfigError names the setting when unknown."""
    if not name:
        return zoneinfo.ZoneInfo(local_zone_name())
    try:
        if len(name) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*", name):
            raise ValueError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        shown = name if len(name) <= 40 else name[:40] + "..."
        prefix = f"{source}: " if source else ""
        raise ConfigError(
            f"{prefix}timezone {shown!r} is not an IANA zone name such as Europe/Berlin: fix 'timezone' in "
            "thisday.toml, or leave it out to use the machine's zone"
        ) from None


def local_zone_name() -> str:
    """The machine's IANA zone (TZ, then /etc/localtime), UTC when it cannot be told."""
    import tzlocal

    try:
        name = tzlocal.get_localzone_name()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, LookupError):
        return "UTC"
    return name or "UTC"


# ---------------------------------------------------------------------------------------------
# Reading


def _round_rule(value: Any, where: str) -> str | tuple[int, ...]:
    """``selection.round``: a rule's name, or a list of year counts."""
    from .dates import ROUND_RULES

    if isinstance(value, str):
        if value not in ROUND_RULES:
            raise ConfigError(
                f"{where} must be {' or '.join(repr(r) for r in ROUND_RULES)} or a list of years such as "
                f"[50, 100], not {_shown(value)}{suggest(value, ROUND_RULES)}"
            )
        return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 100_000 for v in value)
    ):
        return tuple(sorted(set(value)))
    raise ConfigError(f"{where} must be 'wikipedia', 'classic' or a non-empty list of whole years above 0 such as [50, 100]")


def _convert(value: Any, hint: Any, where: str, base: Path) -> Any:
    if where == "selection.round":
        return _round_rule(value, where)
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(value, options[0], where, base)
    if origin is tuple:
        (item_type, _) = typing.get_args(hint)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list")
        return tuple(_convert(v, item_type, f"{where}[{i}]", base) for i, v in enumerate(value))
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, choices))}, not {value!r}")
        return value
    if hint is datetime.time:
        if not isinstance(value, str) or not _TIME_RE.match(value):
            raise ConfigError(f'{where} {value!r} must be HH:MM (24-hour), e.g. "06:00"')
        return datetime.time.fromisoformat(value)
    if hint is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a path (text)")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path
    if isinstance(hint, type) and issubclass(hint, Feb29Policy | Kind):
        options = [m.value for m in hint]
        if value not in options:
            raise ConfigError(f"{where} must be one of {', '.join(options)}, not {value!r}")
        return hint(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ConfigError(f"{where} must be {hint.__name__}, not {_shown(value)}")
        if hint in (int, float) and not -1e9 <= value <= 1e9:
            raise ConfigError(f"{where} is out of range: {_shown(value)}")
        if hint is str and len(value) > 2000:
            raise ConfigError(f"{where} is too long ({len(value)} characters; at most 2000)")
        return value
    if dataclasses.is_dataclass(hint):
        return _section(value, hint, where, base)  # type: ignore[arg-type]
    raise ConfigError(f"{where}: unsupported value {value!r}")  # pragma: no cover


def _shown(value: Any) -> str:
    """A value for an error message, cut short (a 5,000-digit integer is not worth printing)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge number"
    return text if len(text) <= 60 else text[:57] + "..."


def _section(data: Any, cls: type[T], where: str, base: Path) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table ([{where}])")
    hints = typing.get_type_hints(cls)
    names = [
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name != "source" and f.init
    ]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            prefix = f"{where}." if where else ""
            hint = suggest(key, names)
            if hint and prefix:
                hint = hint.replace("'", f"'{prefix}", 1)
            raise ConfigError(f"unknown setting '{prefix}{key}'{hint}")
        kwargs[key] = _convert(value, hints[key], f"{where}.{key}".lstrip("."), base)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the key check
        raise ConfigError(f"{where}: {exc}") from None


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_MAILBOX = re.compile(rf"([A-Za-z0-9 ]+ <)?{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*(?(1)>)")
"""``a@example.org`` or ``Plain Name <a@example.org>``: a mailbox :func:`thisday.message.parse_address` accepts."""


def _plainly_valid(digest: DigestSettings) -> bool:
    """Whether the digest's addresses are plain mailboxes and no list id or unsubscribe URL is set: nothing the
    full checks could refuse, so a command that sends no mail (``preview``) need not import the email package."""
    addresses = (digest.sender, *((digest.return_path,) if digest.return_path else ()), *digest.recipients)
    return (
        not digest.list_id.strip()
        and not digest.unsubscribe_url.strip()
        and all(len(a) <= 254 and _PLAIN_MAILBOX.fullmatch(a) for a in addresses)
    )


def validate(settings: Settings, where: str) -> Settings:
    """Every check of the settings, at load: raises ConfigError naming the file and key, and the fix.

    Only whether files (recipients, templates) can be read is left to run time.
    """
    if settings.selection.limit < 0:
        raise ConfigError(f"{where}: selection.limit must be 0 (no limit) or more")
    names = [f.name for f in settings.feeds]
    for feed in settings.feeds:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", feed.name):
            raise ConfigError(
                f"{where}: feed name {feed.name!r} must be lowercase letters, digits, - and _ (it names the files)"
            )
        if names.count(feed.name) > 1:
            raise ConfigError(f"{where}: two feeds are named {feed.name!r}; feed names must differ")
        if not 1 <= feed.days <= 3660:
            raise ConfigError(f"{where}: feeds.{feed.name}.days must be between 1 and 3660")
    if not re.fullmatch(r"https?://[^\s/?#\"<>\\]+(?:/[^\s\"<>\\]*)?", settings.site.base_url):
        raise ConfigError(f"{where}: site.base_url must be an absolute http(s) URL such as https://example.org/")
    hub = settings.site.websub_hub
    if hub and not re.fullmatch(r"https?://[^\s/?#]+(?:/[^\s]*)?", hub):
        raise ConfigError(f"{where}: site.websub_hub must be an absolute http(s) URL such as https://hub.example/, or empty")
    if not 1 <= settings.site.calendar_years <= 100:
        raise ConfigError(f"{where}: site.calendar_years must be between 1 and 100, not {settings.site.calendar_years}")
    _check_languages(settings, where)
    if not 0 <= settings.daemon.catch_up_days <= 3660:
        raise ConfigError(f"{where}: daemon.catch_up_days must be between 0 and 3660 (ten years)")
    ledger_url = settings.daemon.ledger_url.strip()
    if ledger_url.startswith("sqlite") and ledger_url.rstrip("/").endswith((":", ":memory:", "sqlite:")):
        raise ConfigError(
            f"{where}: daemon.ledger_url {ledger_url!r} is an in-memory database, forgotten at exit: name a file "
            "(sqlite:///path/ledger.sqlite) or leave it empty for the default"
        )
    smtp = settings.smtp
    if not 0 < smtp.port < 65536:
        raise ConfigError(f"{where}: smtp.port must be between 1 and 65535, not {smtp.port}")
    if smtp.timeout <= 0:
        raise ConfigError(f"{where}: smtp.timeout must be more than 0 seconds, not {smtp.timeout}")
    if not 1 <= smtp.connections <= 32:
        raise ConfigError(f"{where}: smtp.connections must be between 1 and 32, not {smtp.connections}")
    if smtp.rate < 0:
        raise ConfigError(f"{where}: smtp.rate must be 0 (no limit) or a number of messages a second")
    if smtp.retries < 0 or smtp.retry_delay < 0:
        raise ConfigError(f"{where}: smtp.retries and smtp.retry_delay must be 0 or more")
    digest = settings.digest
    _validate_subscribing(digest, where)
    if not _plainly_valid(digest):  # else the email package (40 ms of imports) has nothing to refuse
        from .message import check_list_id, check_unsubscribe_url, parse_address

        try:
            parse_address(digest.sender, "digest.sender")
            if digest.return_path:
                parse_address(digest.return_path, "digest.return_path")
            for number, text in enumerate(digest.recipients):
                parse_address(text, f"digest.recipients[{number}]")
            check_list_id(digest.list_id)
            check_unsubscribe_url(digest.unsubscribe_url)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    _validate_social(settings, where)
    return settings


def _validate_subscribing(digest: DigestSettings, where: str) -> None:
    """The subscription settings: positive limits and durations, proxies that are IP addresses or networks."""
    import ipaddress

    if not 1 <= digest.confirm_days <= 365:
        raise ConfigError(f"{where}: digest.confirm_days must be between 1 and 365, not {digest.confirm_days}")
    for key in ("mails_per_address", "requests_per_ip"):
        if getattr(digest, key) < 1:
            raise ConfigError(f"{where}: digest.{key} must be 1 or more, not {getattr(digest, key)}")
    for number, proxy in enumerate(digest.proxies):
        try:
            ipaddress.ip_network(proxy.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"{where}: digest.proxies[{number}] {proxy!r} is not an IP address or network "
                "such as 127.0.0.1 or 10.0.0.0/8"
            ) from None


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_URL_RE = re.compile(r"https?://[^\s/?#]+(?:/[^\s]*)?")
_WINDOW_RE = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*$")


def parse_window(text: str) -> tuple[datetime.time, datetime.time] | None:
    """``"08:00-20:00"`` as (start, end); None when it is not HH:MM-HH:MM."""
    match = _WINDOW_RE.match(text)
    if match is None:
        return None
    start = datetime.time(int(match[1]), int(match[2]))
    end = datetime.time(int(match[3]), int(match[4]))
    return start, end


def _validate_social(settings: Settings, where: str) -> None:
    """The ``[mastodon]``, ``[bluesky]`` and ``[[webhooks]]`` checks (names, URLs, times, limits)."""
    channels: list[tuple[str, Any]] = []
    if settings.mastodon is not None:
        m = settings.mastodon
        if not _URL_RE.fullmatch(m.instance):
            raise ConfigError(f"{where}: mastodon.instance must be the server's URL, e.g. https://mastodon.social")
        if m.max_characters < 0 or 0 < m.max_characters < 100:
            raise ConfigError(f"{where}: mastodon.max_characters must be 0 (ask the instance) or at least 100")
        channels.append(("mastodon", m))
    if settings.bluesky is not None:
        b = settings.bluesky
        if not _URL_RE.fullmatch(b.service):
            raise ConfigError(f"{where}: bluesky.service must be the PDS URL, e.g. https://bsky.social")
        if not b.handle.strip():
            raise ConfigError(f"{where}: bluesky.handle is required, e.g. handle = \"onthisday.bsky.social\"")
        channels.append(("bluesky", b))
    names = [w.name for w in settings.webhooks]
    for number, hook in enumerate(settings.webhooks):
        label = f"webhooks[{number}]"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", hook.name):
            raise ConfigError(
                f"{where}: {label}.name {hook.name!r} must be 1-40 lowercase letters, digits, - and _ (it names the ledger rows)"
            )
        if names.count(hook.name) > 1:
            raise ConfigError(f"{where}: two webhooks are named {hook.name!r}; webhook names must differ")
        if not _URL_RE.fullmatch(hook.url):
            raise ConfigError(f"{where}: {label}.url must be an absolute http(s) URL")
        channels.append((label, hook))
    for label, section in channels:
        for key in ("token_env", "password_env", "secret_env"):
            value = getattr(section, key, None)
            if value is None or (key == "secret_env" and value == ""):
                continue
            if not _ENV_NAME_RE.fullmatch(value):
                raise ConfigError(
                    f"{where}: {label}.{key} must name an environment variable (e.g. THISDAY_SECRET), "
                    "not hold the secret itself"
                )
        if section.timeout <= 0 or section.retries < 0 or section.retry_delay < 0 or section.max_retry_after < 0:
            raise ConfigError(
                f"{where}: {label}: timeout must be more than 0, retries, retry_delay and max_retry_after 0 or more"
            )
        times = getattr(section, "times", ())
        window = getattr(section, "window", "")
        if times and window:
            raise ConfigError(f"{where}: {label}: set times or window, not both")
        if list(times) != sorted(set(times)):
            raise ConfigError(f'{where}: {label}.times must be distinct and in order, e.g. ["08:00", "12:00"]')
        if window:
            parsed = parse_window(window)
            if parsed is None or parsed[0] >= parsed[1]:
                raise ConfigError(
                    f'{where}: {label}.window {window!r} must be "HH:MM-HH:MM" with the start first, e.g. "08:00-20:00"'
                )


def _check_languages(settings: Settings, where: str) -> None:
    """Every language code names a shipped language; an unknown one is an error naming the closest."""
    from .i18n import LANGUAGES, unknown_message

    codes = [("site.language", settings.site.language)]
    codes += [(f"site.languages[{i}]", code) for i, code in enumerate(settings.site.languages)]
    codes += [(f"feeds.{feed.name}.language", feed.language) for feed in settings.feeds if feed.language]
    for setting, code in codes:
        if code not in LANGUAGES:
            raise ConfigError(f"{where}: {unknown_message(code, setting)}")


def _depth(value: Any, level: int = 0) -> int:
    """How deeply tables and arrays nest in ``value`` (stops counting past 10)."""
    if level > 10 or not isinstance(value, dict | list):
        return level
    children = value.values() if isinstance(value, dict) else value
    return max((_depth(child, level + 1) for child in children), default=level + 1)


def load_settings(path: Path | None, **overrides: Any) -> Settings:
    """Settings from ``path`` (None: defaults). ``overrides`` replace top-level fields (e.g. entries from --entries)."""
    if path is None:
        settings = Settings()
        where = "defaults"
    else:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a folder, not a config file") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except (ValueError, RecursionError) as exc:  # integers past 4,300 digits, tables nested too deep
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
            raise ConfigError(f"{path}: not a usable config file ({reason}); see the README's Configuration") from None
        where = str(path)
        base = path.parent
        feeds = raw.pop("feeds", None)
        try:
            if _depth(raw) > 8:
                raise ConfigError("tables are nested too deeply (no setting is more than two levels down)")
            settings = _section(raw, Settings, "", base)
            if feeds is not None:
                if not isinstance(feeds, list):
                    raise ConfigError("feeds must be an array of tables: [[feeds]]")
                settings = dataclasses.replace(
                    settings,
                    feeds=tuple(_section(f, FeedSettings, f"feeds[{i}]", base) for i, f in enumerate(feeds)),
                )
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        settings = dataclasses.replace(settings, source=path)
        if "entries" not in raw:
            settings = dataclasses.replace(settings, entries=base / "entries")
        if "feeds_dir" not in raw:
            settings = dataclasses.replace(settings, feeds_dir=base / "feeds")
        if "state_dir" not in raw:
            settings = dataclasses.replace(settings, state_dir=base / "state")
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    return validate(settings, where)
