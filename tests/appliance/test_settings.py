"""The one settings table: TOML file, environment override, and loud failures for unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.settings import SETTINGS, SettingsError, load_settings, render_toml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "madoguchi.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_no_file_at_the_default_path(tmp_path):
    settings = load_settings(environ={"MADOGUCHI_CONFIG": str(write(tmp_path, ""))})
    for s in SETTINGS:
        assert getattr(settings, s.name) == s.default


def test_file_then_environment(tmp_path):
    """The environment overrides the file, and values are typed."""
    path = write(tmp_path, 'busy_timeout_ms = 2000\ncity_name = "一宮市"\none_booking_per_person = false\n')
    settings = load_settings(path, environ={"MADOGUCHI_BUSY_TIMEOUT_MS": "3000"})
    assert settings.busy_timeout_ms == 3000
    assert settings.city_name == "一宮市"
    assert settings.one_booking_per_person is False


@pytest.mark.parametrize("text", ["busy_timeout = 10\n", "[section]\nx = 1\n"])
def test_unknown_key_in_file_is_an_error(tmp_path, text):
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings(write(tmp_path, text), environ={})


def test_unknown_environment_variable_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="MADOGUCHI_DATADIR"):
        load_settings(write(tmp_path, ""), environ={"MADOGUCHI_DATADIR": "/x"})


@pytest.mark.parametrize("text,fragment", [
    ("busy_timeout_ms = \"soon\"\n", "must be a int"),
    ("one_booking_per_person = \"perhaps\"\n", "must be a bool"),
    ("log_level = \"LOUD\"\n", "log_level"),
    ("busy_timeout_ms = \n", "not valid TOML"),
])
def test_bad_values_name_the_setting(tmp_path, text, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(write(tmp_path, text), environ={})


def test_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(environ={"MADOGUCHI_CONFIG": str(tmp_path / "nope.toml")})


def test_rendered_config_reads_back_identically(tmp_path):
    """`madoguchi init`'s config file round-trips every setting."""
    original = load_settings(write(tmp_path, 'city_name = "和泉市"\n'), environ={})
    again = load_settings(write(tmp_path, render_toml(original)), environ={})
    assert again.as_dict() == original.as_dict()
