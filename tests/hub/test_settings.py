"""Settings: the TOML file, environment overrides, and a README that documents every field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hub.settings import Settings, load

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text()
    for section, field in Settings.model_fields.items():
        sub = getattr(field.annotation, "model_fields", None)
        for name in sub or []:
            assert f"`{section}.{name}`" in text, f"{section}.{name} is not in README.md"


def test_toml_then_environment(tmp_path, monkeypatch):
    """The home's TOML sets values; PASSERELLE_* variables override them; ISO durations parse."""
    (tmp_path / "passerelle.toml").write_text(
        '[hub]\ndomain = "ocam.be"\n[deadlines]\noverdue_reminder_every = "PT12H"\n'
        '[gateway]\nlisten = "127.0.0.1:2600"\n'
    )
    monkeypatch.setenv("PASSERELLE_GATEWAY__LISTEN", "127.0.0.1:2700")
    settings = load(tmp_path)
    assert settings.hub.address == "hub@ocam.be"
    assert settings.deadlines.overdue_reminder_every == timedelta(hours=12)
    assert settings.gateway.listen == "127.0.0.1:2700"
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'passerelle.db'}"


def test_init_writes_each_field_with_the_schemas_default_and_description():
    """passerelle.toml as init writes it: every field it names holds the schema's default (gateway/limits.py and
    crypto/mime/reader.py for the limits), with the schema's description above it; it loads as the defaults."""
    import tomllib

    from gateway import Limits
    from hub.home import WRITTEN, settings_template
    from hub.settings import Settings

    text = settings_template("ocam.test", "hub@ocam.test", "AB" * 20, None)
    written = tomllib.loads(text)
    for section, fields in WRITTEN.items():
        schema = Settings.model_fields[section].annotation.model_fields
        for name in fields:
            default = schema[name].default
            assert written[section][name] == getattr(default, "get_secret_value", lambda: default)()
            assert f"# {schema[name].description.split()[0]}" in text
    assert written["gateway"]["max_message_bytes"] == Limits().max_message_bytes == 25 * 1024 * 1024
    assert written["hub"] == {"domain": "ocam.test", "address": "hub@ocam.test", "key_fingerprint": "AB" * 20}
