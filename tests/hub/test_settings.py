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
