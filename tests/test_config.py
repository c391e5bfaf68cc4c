"""thisday.toml: defaults, paths relative to the file, and clear errors for mistakes."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from thisday.config import Settings, load_settings
from thisday.errors import ConfigError
from thisday.model import Feb29Policy, Kind


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thisday.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    """With no config at all, thisday has a working default for everything."""
    settings = load_settings(None)
    assert settings == Settings()
    assert settings.feeds[0].name == "onthisday" and settings.daemon.time == datetime.time(6, 0)


def test_values_and_relative_paths(tmp_path: Path) -> None:
    """Values are read and typed; paths are relative to the config file's folder."""
    path = write_config(
        tmp_path,
        'timezone = "Europe/Berlin"\nentries = "my-entries"\n[selection]\nlimit = 5\nfeb29 = "mar1"\n'
        '[[feeds]]\nname = "births"\nkinds = ["birth"]\ntags = "science"\n',
    )
    settings = load_settings(path)
    assert settings.entries == tmp_path / "my-entries"
    assert settings.state_dir == tmp_path / "state"
    assert settings.selection.limit == 5 and settings.selection.feb29 is Feb29Policy.MAR1
    assert settings.feeds[0].kinds == (Kind.BIRTH,) and settings.feeds[0].tags == ("science",)
    assert str(settings.zone) == "Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('timezon = "UTC"', "unknown setting 'timezon' (did you mean 'timezone'?)"),
        ("[selection]\nlimmit = 3", "unknown setting 'selection.limmit' (did you mean 'selection.limit'?)"),
        ('timezone = "Mars/Olympus"', "not an IANA zone name"),
        ('[daemon]\ntime = "6am"', "must be HH:MM"),
        ("[selection]\nlimit = 'five'", "selection.limit must be int"),
        ('[selection]\nfeb29 = "feb30"', "must be one of feb28, mar1, skip"),
        ("title = [", "not valid TOML"),
        ('[[feeds]]\nname = "A B"', "feed name 'A B'"),
        # every value is checked when the file loads, not when the digest first renders at 06:00
        ('[digest]\nsender = "not an address"', "digest.sender 'not an address' is not an email address"),
        ('[digest]\nsender = "x@example.org\\r\\nBcc: y@example.org"', "digest.sender"),
        ('[digest]\nlist_id = "not a list id"', "digest.list_id 'not a list id' must be a dotted name"),
        ('[digest]\nunsubscribe_url = "javascript:alert(1)"', "digest.unsubscribe_url"),
        ('[digest]\nrecipients = ["ok@example.org", "nobody"]', "digest.recipients[1] 'nobody'"),
        ('[digest]\ncatch_up = "some"', "digest.catch_up must be one of latest, all, none"),
        ('[smtp]\ntimeout = 0', "smtp.timeout must be more than 0"),
        ('[smtp]\nsecurity = "ssl"', "smtp.security must be one of none, starttls, tls"),
        ('[smtp]\nport = 70000', "smtp.port must be between 1 and 65535"),
        ('[[feeds]]\nname = "x"\nitems = "post"', "items must be one of day, entry"),
        ('timezone = "' + "A" * 300 + '"', "is not an IANA zone name"),
        ("[selection]\nlimit = " + "9" * 5000, "not a usable config file"),
        ("x = " + "[" * 1000 + "]" * 1000, "nested too deeply"),
        ("[site]\nbase_url = \"https://exa mple.org/\"", "site.base_url must be an absolute http(s) URL"),
        ("[site]\nbase_url = 'https://example.org/a\"b/'", "site.base_url must be an absolute http(s) URL"),
        ('[daemon]\nledger_url = "sqlite://"', "in-memory database"),
        ("[daemon]\ncatch_up_days = 800000", "daemon.catch_up_days must be between 0 and 3660"),
        ('[[feeds]]\nname = "x"\ndays = 800000', "days must be between 1 and 3660"),
    ],
)
def test_mistakes_are_explained(tmp_path: Path, text: str, fragment: str) -> None:
    """A typo or a bad value stops with a message naming the file, the key and the fix."""
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value) and fragment in str(info.value)

