"""The [mastodon], [bluesky] and [[webhooks]] settings: read from thisday.toml, checked whole at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from thisday.config import load_settings
from thisday.errors import ConfigError


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "thisday.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_social_sections_load(tmp_path: Path) -> None:
    """[mastodon], [bluesky] and [[webhooks]] tables become typed settings; absent tables leave channels off."""
    config = load(
        tmp_path,
        '[mastodon]\ninstance = "https://m.example"\nmode = "entries"\ntimes = ["08:00", "12:00"]\nthread = true\n'
        '[bluesky]\nhandle = "bot.example"\nwindow = "08:00-20:00"\n'
        '[[webhooks]]\nname = "team"\nurl = "https://hooks.example/x"\nformat = "slack"\n',
    )
    assert config.mastodon is not None and config.mastodon.times[1].hour == 12 and config.mastodon.thread
    assert config.bluesky is not None and config.bluesky.window == "08:00-20:00"
    assert config.webhooks[0].format == "slack"
    assert load(tmp_path, "").mastodon is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[mastodon]\ninstance = "mastodon.social"\n', "mastodon.instance"),
        ('[mastodon]\ninstance = "https://m.example"\ntimes = ["08:00"]\nwindow = "08:00-10:00"\n', "not both"),
        ('[mastodon]\ninstance = "https://m.example"\nwindow = "20:00-08:00"\n', "HH:MM-HH:MM"),
        ('[mastodon]\ninstance = "https://m.example"\ntimes = ["12:00", "08:00"]\n', "in order"),
        ('[mastodon]\ninstance = "https://m.example"\ntoken_env = "abc def secret"\n', "environment variable"),
        ('[mastodon]\ninstance = "https://m.example"\nvisibilty = "public"\n', "did you mean 'mastodon.visibility'"),
        ('[bluesky]\nservice = "https://bsky.social"\n', "bluesky.handle"),
        ('[[webhooks]]\nname = "A B"\nurl = "https://x.example/"\n', "webhooks[0].name"),
        ('[[webhooks]]\nname = "a"\nurl = "https://x.example/"\n[[webhooks]]\nname = "a"\nurl = "https://y.example/"\n', "must differ"),
        ('[[webhooks]]\nname = "a"\nurl = "https://x.example/"\nformat = "teams"\n', "json, discord, slack"),
    ],
)
def test_bad_social_settings_say_what_and_how_to_fix(tmp_path: Path, text: str, message: str) -> None:
    """Each mistake is a ConfigError naming the file and the key, with the fix."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert message in str(caught.value) and "thisday.toml" in str(caught.value)
