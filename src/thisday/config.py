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
    websub_hub: str = ""
    """A WebSub hub (``https://hub.example/``): feeds then carry ``rel="hub"`` links and each change is pinged."""
    calendar_years: int = 10
    """How many years (from the build's year) the calendars and the day API list moveable observances for."""


@dataclass(frozen=True)
class SelectionSettings:
    limit: int = 0
    """Most entries per day (0: no limit). Featured entries and round anniversaries are kept first."""
    feb29: Feb29Policy = Feb29Policy.FEB28


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


@dataclass(frozen=True)
class DaemonSettings:
    time: datetime.time = datetime.time(6, 0)
    """The local time of the daily publication (``"06:00"`` in thisday.toml)."""
    catch_up_days: int = 7
    ledger_url: str = ""
    """SQLAlchemy URL of the publication ledger; default: SQLite in the state folder."""


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


def _convert(value: Any, hint: Any, where: str, base: Path) -> Any:
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


def validate(settings: Settings, where: str) -> Settings:
    """Every check of the settings, at load: raises ConfigError naming the file and key, and the fix.

    Only whether files (recipients, templates) can be read is left to run time.
    """
    from .message import check_list_id, check_unsubscribe_url, parse_address

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
        if feed.days < 1:
            raise ConfigError(f"{where}: feeds.{feed.name}.days must be at least 1")
    if not re.fullmatch(r"https?://[^\s/?#]+(?:/[^\s]*)?", settings.site.base_url):
        raise ConfigError(f"{where}: site.base_url must be an absolute http(s) URL such as https://example.org/")
    hub = settings.site.websub_hub
    if hub and not re.fullmatch(r"https?://[^\s/?#]+(?:/[^\s]*)?", hub):
        raise ConfigError(f"{where}: site.websub_hub must be an absolute http(s) URL such as https://hub.example/, or empty")
    if not 1 <= settings.site.calendar_years <= 100:
        raise ConfigError(f"{where}: site.calendar_years must be between 1 and 100, not {settings.site.calendar_years}")
    if settings.daemon.catch_up_days < 0:
        raise ConfigError(f"{where}: daemon.catch_up_days must be 0 or more")
    smtp = settings.smtp
    if not 0 < smtp.port < 65536:
        raise ConfigError(f"{where}: smtp.port must be between 1 and 65535, not {smtp.port}")
    if smtp.timeout <= 0:
        raise ConfigError(f"{where}: smtp.timeout must be more than 0 seconds, not {smtp.timeout}")
    if smtp.retries < 0 or smtp.retry_delay < 0:
        raise ConfigError(f"{where}: smtp.retries and smtp.retry_delay must be 0 or more")
    digest = settings.digest
    try:
        parse_address(digest.sender, "digest.sender")
        for number, text in enumerate(digest.recipients):
            parse_address(text, f"digest.recipients[{number}]")
        check_list_id(digest.list_id)
        check_unsubscribe_url(digest.unsubscribe_url)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return settings


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
