"""Settings: one pydantic-settings object of per-package sections, from HOME/passerelle.toml and PASSERELLE_ env."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from crypto.mime.reader import Limits as MimeLimits
from crypto.openpgp.gpg import MAX_SESSION_KEYS, MAX_SIGNATURE_BYTES
from gateway.limits import Limits as SmtpLimits
from crypto.openpgp.gpg_process import system_binary

SETTINGS_FILE = "passerelle.toml"


def host_port(value: str, default_port: int) -> tuple[str, int]:
    """Parse 'HOST:PORT' (or '[v6]:PORT', or 'HOST')."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    return host, int(port)


class HubSection(BaseModel):
    """Identity of this hub."""

    domain: str = Field("ocam.test", description="Mail domain of the hub.")
    address: str = Field("", description="The hub's own address (default hub@DOMAIN); its key carries it.")
    addresses: list[str] = Field(default_factory=list, description="Extra addresses the gateway accepts RCPT for.")
    key_fingerprint: str = Field("", description="Primary fingerprint of the hub's OpenPGP key (set by init, and "
                                                 "by hub-key rotate): it signs everything the hub sends.")
    previous_keys: list[str] = Field(default_factory=list, description="Primary fingerprints of the hub's earlier "
                                     "keys, oldest first (hub-key rotate): their public keys stay, so that what "
                                     "they signed still verifies.")
    previous_key_accepted_until: datetime | None = Field(
        None, description="Until when (UTC) mail encrypted to the last of previous_keys is accepted: the "
                          "rotation's overlap. After it such mail is refused and that key is retired.")
    expiry_warning_days: list[int] = Field(default_factory=lambda: [30, 7], description="Days before a registered "
                                           "key, the hub's key or the TLS certificate expires at which the hub "
                                           "warns (an alert; a key's owner also gets a notice), once each.")
    policy_file: str = Field("", description="Distribution policy (law Art. 10) replacing the shipped one.")
    inbound_rules_file: str = Field("", description="Routing rules of inbound messages to OCAM's members and desks "
                                                 "replacing the shipped hub/inbound/rules.toml.")
    act_max_age_seconds: float = Field(
        300.0, gt=0, description="How old (or how far ahead of the hub's clock) a member's signed act may be when the "
                                 "hub verifies it, in seconds; an older statement is refused (sign the act again).")
    heartbeat_seconds: float = Field(5.0, gt=0, description="How often each serving process writes the health of "
                                                            "the components it runs for the dashboard.")
    heartbeat_retention_seconds: float = Field(
        86400.0, gt=0, description="Heartbeats no process has rewritten for this long (a process gone for good) "
                                   "are removed.")

    @model_validator(mode="after")
    def _default_address(self) -> "HubSection":
        if not self.address:
            self.address = f"hub@{self.domain}"
        return self

    @field_validator("expiry_warning_days")
    @classmethod
    def _positive_days(cls, value: list[int]) -> list[int]:
        if any(d <= 0 for d in value):
            raise ValueError("hub.expiry_warning_days are whole days before an expiry, each more than 0")
        return sorted(set(value), reverse=True)

    @property
    def key_fingerprints(self) -> list[str]:
        """Every key the hub has signed with: the current one first, then the earlier ones, newest first."""
        return [self.key_fingerprint, *reversed(self.previous_keys)]

    def retired_keys(self, now: datetime) -> frozenset[str]:
        """The earlier keys mail may no longer be encrypted to: all but the last, and the last once its overlap
        has ended."""
        open_ = self.previous_keys[-1:] if self.previous_key_accepted_until and now < self.previous_key_accepted_until \
            else []
        return frozenset(k for k in self.previous_keys if k not in open_)

    def accepts(self, address: str) -> bool:
        address = address.lower()
        return address == self.address.lower() or address in {a.lower() for a in self.addresses}


class GatewaySection(BaseModel):
    """The SMTP listener and its limits (their defaults: the gateway's, gateway/limits.py, and the MIME reader's,
    crypto/mime/reader.py — written once, there)."""

    listen: str = Field("127.0.0.1:2525", description="HOST:PORT the SMTP gateway listens on.")
    require_starttls: bool = Field(True, description="Refuse MAIL with 530 until STARTTLS (turn off only on loopback test rigs).")
    max_message_bytes: int = Field(SmtpLimits.max_message_bytes, description="Largest message accepted, announced in EHLO SIZE.")
    max_mime_depth: int = Field(MimeLimits.max_depth, description="Deepest MIME nesting accepted.")
    max_mime_parts: int = Field(MimeLimits.max_parts, description="Most MIME parts accepted in one message.")
    max_header_line: int = Field(MimeLimits.max_header_line, description="Longest single (unfolded) header field accepted.")
    max_header_bytes: int = Field(MimeLimits.max_header_bytes, gt=0, description="Largest header section, in bytes, of the message "
                                                                "or of one MIME part; its empty line is looked for "
                                                                "only that far.")
    max_header_fields: int = Field(MimeLimits.max_header_fields, gt=0, description="Most fields in one header section (of the message or "
                                                           "of one MIME part).")
    max_notification_bytes: int = Field(1024 * 1024, gt=0, description="Largest unsigned delivery status "
                                                                       "notification (null sender) accepted, bytes.")
    data_timeout_seconds: float = Field(SmtpLimits.timeout_seconds, description="Idle timeout of an SMTP session, in seconds; idle "
                                                           "commands (NOOP, RSET, EHLO, HELP...) do not restart it.")
    verify_threads: int = Field(4, description="Threads doing gpg and database work for the gateway.")
    max_connections: int = Field(SmtpLimits.max_connections, description="Concurrent SMTP sessions; beyond that 421.")
    signature_clock_skew_seconds: float = Field(
        300.0, ge=0, description="How far ahead of the hub's clock a signature's time may be (the sender's clock "
                                 "running fast); further ahead, the message is refused.")
    max_signature_age: timedelta = Field(
        timedelta(days=7), gt=timedelta(0), description="Oldest signature accepted: from its signing time to the "
                                                        "hub's clock at receipt; older, the message is refused.")
    max_connections_per_client: int = Field(SmtpLimits.max_connections_per_client, gt=0, description="Concurrent SMTP sessions from one client (an "
                                                                  "IPv4 address or an IPv6 /64); beyond that 421.")
    tls_reserved_connections: int = Field(SmtpLimits.tls_reserved_connections, ge=0, description="Of max_connections, the sessions only those that "
                                                                "completed STARTTLS may hold (when STARTTLS is "
                                                                "required; at most half of max_connections): "
                                                                "sessions before STARTTLS get the rest.")
    starttls_within_seconds: float = Field(SmtpLimits.starttls_within_seconds, gt=0, description="A session that must do STARTTLS and has not "
                                                                   "done it this many seconds after connecting is "
                                                                   "closed with 421 (NOOP does not extend it).")
    max_session_errors: int = Field(SmtpLimits.max_session_errors, gt=0, description="5xx replies in one SMTP session before it is closed "
                                                          "with 421 (recorded once).")


class StoreSection(BaseModel):
    """The database."""

    url: str = Field("", description="SQLAlchemy URL; empty: sqlite in HOME/passerelle.db.")
    busy_timeout_seconds: float = Field(30.0, description="Longest wait for a locked database before a 4xx.")


class CryptoSection(BaseModel):
    """OpenPGP engine and sealing."""

    gpg_binary: str = Field(default_factory=lambda: system_binary("gpg"),
                            description="The gpg executable, by its absolute path (never looked up in PATH); "
                                        "default: the system's, found once at start in /usr/bin, /bin or "
                                        "/usr/local/bin.")
    gpg_timeout_seconds: float = Field(30.0, description="Longest a gpg call may take. Past it gpg is killed and "
                                                         "the hub answers 4xx, unless gpg had used 2 s of CPU (or a "
                                                         "quarter of this, if less): then the input is the cause, "
                                                         "5xx.")
    max_signature_bytes: int = Field(MAX_SIGNATURE_BYTES, gt=0, description="Largest detached signature part (bytes); it "
                                                                  "must be exactly one OpenPGP signature packet.")
    max_session_keys: int = Field(MAX_SESSION_KEYS, gt=0, description="Most session key packets (one per recipient) an encrypted "
                                                        "message may carry before its data.")
    in_process: bool = Field(True, description="Check signatures whose key gpg lists as valid, make the hub's "
                                               "own (unprotected key), and encrypt to the subkey gpg would choose "
                                               "where that choice is plain, in process with `cryptography` (v4; "
                                               "Ed25519, ECDSA P-256/384/521, RSA >= 2048, SHA-2; encryption to "
                                               "cv25519 and RSA >= 2048); gpg decides everything else, every "
                                               "signature not found good here and every key not encrypted to here. "
                                               "false: gpg for all.")

    @field_validator("gpg_binary")
    @classmethod
    def _absolute_binary(cls, value: str) -> str:
        if not os.path.isabs(value):
            raise ValueError(f"crypto.gpg_binary must be an absolute path, not {value!r} (no lookup in PATH)")
        return value


class DeadlinesSection(BaseModel):
    """Reminders and the deviations the law allows. The delays themselves are the law's (AR Art. 7, 8, 11 §3;
    hub/deadlines/windows.py), not settings."""

    deviation_windows: dict[str, timedelta] = Field(
        default_factory=dict, description="Agreed windows shorter than the law's, by urgency (e.g. URGENT = "
                                          "\"P2D\"): FLASH in elapsed time, the others in whole calendar days; "
                                          "every receipt states them as a deviation, with deviation_basis.")
    deviation_basis: str = Field("", description="The documented basis of deviation_windows (an agreement, an "
                                                 "instruction of the director); required with them.")
    acknowledgement_alert_after: timedelta = Field(
        timedelta(hours=1), gt=timedelta(0), description="An OCAM request the partner's side has not acknowledged "
                                                         "(MDN or success DSN) this long after the relay took it "
                                                         "raises an alert: its clock has not started.")
    reminder_fractions: list[float] = Field(default_factory=lambda: [0.5, 0.9],
                                            description="Reminders at these fractions of the window (and at the due time).")
    overdue_reminder_every: timedelta = Field(timedelta(days=1), gt=timedelta(0),
                                              description="After escalation, remind this often.")

    @model_validator(mode="before")
    @classmethod
    def _no_free_windows(cls, data: Any) -> Any:
        """The windows were settings once (flash = "PT1H" made receipts announce a one-hour legal due time). A
        home an earlier `init` wrote carries them with the law's values: those are dropped; any other is refused."""
        if not isinstance(data, dict):
            return data
        from hub.deadlines.windows import LEGAL

        data = dict(data)
        for name in ("flash", "urgent", "routine", "non_urgent"):
            if name not in data:
                continue
            value, legal = data.pop(name), LEGAL[name.upper().replace("_", "-")]
            if _duration(value) != legal.after(_EPOCH) - _EPOCH:
                raise ValueError(f"deadlines.{name} = {value!r} is not the law's {legal}: the delays are not settings "
                                 "(AR Art. 11 §3); a shorter agreed window goes in deadlines.deviation_windows with "
                                 "deadlines.deviation_basis, and every receipt states it as a deviation")
        return data

    @model_validator(mode="after")
    def _deviations(self) -> "DeadlinesSection":
        from hub.deadlines.windows import deviation_delay

        self.deviation_windows = {k.upper().replace("_", "-"): v for k, v in self.deviation_windows.items()}
        for urgency, agreed in self.deviation_windows.items():
            deviation_delay(urgency, agreed)
        if "\n" in self.deviation_basis or "\r" in self.deviation_basis or len(self.deviation_basis) > 160:
            raise ValueError("deadlines.deviation_basis is one line of at most 160 characters (the receipt states it)")
        if self.deviation_windows and not self.deviation_basis.strip():
            raise ValueError("deadlines.deviation_windows needs deadlines.deviation_basis: the receipt states the "
                             "deviation and its basis")
        return self


_EPOCH = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a day of no clock change: a law's window as a plain duration


def _duration(value: Any) -> timedelta | None:
    try:
        return TypeAdapter(timedelta).validate_python(value)
    except ValidationError:
        return None


class DeliverySection(BaseModel):
    """Outbound mail through the relay (smart host)."""

    relay: str = Field("127.0.0.1:25", description="HOST:PORT of the relay that carries the hub's mail.")
    relay_starttls: bool = Field(False, description="Use STARTTLS towards the relay.")
    timeout_seconds: float = Field(30.0, description="SMTP timeout towards the relay.")
    retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [60, 300, 900, 1800, 3600, 7200, 14400],
        description="Back-off between attempts; the last value repeats until max_age.",
    )
    max_age: timedelta = Field(timedelta(days=5), description="Give up (and alert) after this long.")
    workers: int = Field(4, description="Concurrent outbound SMTP sessions (and one more, kept for FLASH mail).")


class TransportSection(BaseModel):
    """Between the stages: embedded (the store's queue table) or RabbitMQ (several processes)."""

    url: SecretStr = Field(SecretStr(""), description="amqp://USER:PASS@HOST:PORT/VHOST of RabbitMQ; several, "
                                                       "comma-separated, are tried in turn (a cluster). Empty: embedded.")
    namespace: str = Field("passerelle", description="Prefix of the exchanges and queues this hub declares.")
    prefetch: int = Field(2, description="Unacknowledged messages a worker process holds per stage and urgency "
                                         "queue; a FLASH item waits behind at most this many per process.")
    delivery_limit: int = Field(5, description="Deliveries of one message before it is dead-lettered to quarantine.")
    relay_batch: int = Field(200, description="Outbox rows published per round, most urgent first.")
    # Short: a relay publishes a round and has its confirms in well under a second, and a row of a relay killed
    # mid-round (kill -9 just after a 250) waits this long before another relay takes it. A row published twice
    # is settled once (the stages are idempotent, as for any broker redelivery).
    relay_lease_seconds: float = Field(10.0, description="An outbox row a relay took but did not confirm returns after this.")
    relay_poll_seconds: float = Field(1.0, description="Longest between two claims of the outbox's ready rows "
                                      "(rows this process commits are handed to its relay; another process's "
                                      "rows or a retry falling due wait at most this long).")
    relay_settle_seconds: float = Field(0.2, ge=0.0, description="How long the relay gathers the broker's "
                                        "confirms before removing their rows from the outbox in one transaction "
                                        "(a row confirmed and not yet removed when its process dies is published "
                                        "again once its lease ends: the stages take a redelivered item once).")
    reconnect_seconds: float = Field(2.0, description="Pause between attempts to reach the broker.")
    release_delay_seconds: float = Field(2.0, description="Pause before an item left unsettled (store unavailable) "
                                                          "goes back to its queue.")

    @model_validator(mode="after")
    def _settles_within_the_lease(self) -> "TransportSection":
        if self.relay_settle_seconds >= self.relay_lease_seconds / 4:
            raise ValueError(f"transport.relay_settle_seconds ({self.relay_settle_seconds}) must be under a quarter "
                             f"of transport.relay_lease_seconds ({self.relay_lease_seconds}): a confirmed row is "
                             "removed long before its lease could end")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.url.get_secret_value().strip())

    def urls(self) -> list[str]:
        return [u.strip() for u in self.url.get_secret_value().split(",") if u.strip()]


class MetricsSection(BaseModel):
    """The Prometheus endpoint of each `serve` process (README, "Operating")."""

    listen: str = Field("127.0.0.1:9464", description="HOST:PORT of this process's Prometheus endpoint (/metrics), "
                                                      "loopback by default; empty: no endpoint. Several processes on "
                                                      "one machine need one port each (serve --metrics-listen).")
    store_every_seconds: float = Field(10.0, gt=0, description="Longest the store's gauges (queue depths, deadlines, "
                                                               "holds, audit age) are reused between scrapes before "
                                                               "they are counted again.")


class LogSection(BaseModel):
    """What the processes write to their standard error."""

    format: str = Field("text", pattern="^(text|json)$", description="text: one line per event for a person; json: "
                                                                     "one JSON object per line (journald, ELK), the "
                                                                     "message reference in its own field.")


class AuditSection(BaseModel):
    """The audit log's checkpoints and their witnesses (law Art. 9 §3, 7°)."""

    checkpoint_seconds: float = Field(1.0, gt=0, description="While events are appended, a signed checkpoint at "
                                                             "least this often (seconds; the leader of "
                                                             "`checkpointer` issues them).")
    witnesses: list[str] = Field(default_factory=list, description="Registered partners or recipients, by name, "
                                                                   "who are sent checkpoints to cosign.")
    witness_every_seconds: float = Field(3600.0, gt=0, description="How often each witness is sent the latest "
                                                                   "checkpoint (seconds).")


class Settings(BaseSettings):
    """All of Passerelle's settings. Precedence: init args, environment (PASSERELLE_*), HOME/passerelle.toml, defaults."""

    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(Path("var"), description="Directory holding the store, keys and settings.")
    hub: HubSection = HubSection()
    gateway: GatewaySection = GatewaySection()
    store: StoreSection = StoreSection()
    crypto: CryptoSection = CryptoSection()
    deadlines: DeadlinesSection = DeadlinesSection()
    delivery: DeliverySection = DeliverySection()
    transport: TransportSection = TransportSection()
    metrics: MetricsSection = MetricsSection()
    log: LogSection = LogSection()
    audit: AuditSection = AuditSection()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file is the one named in model_config (see load()); none by default.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # Paths inside the home
    @property
    def gnupg_home(self) -> Path:
        return self.home / "gnupg"

    @property
    def storage_key_path(self) -> Path:
        return self.home / "keys" / "storage.key"

    @property
    def tls_cert(self) -> Path:
        return self.home / "tls" / "cert.pem"

    @property
    def tls_key(self) -> Path:
        return self.home / "tls" / "key.pem"

    @property
    def database_url(self) -> str:
        return self.store.url or f"sqlite:///{self.home / 'passerelle.db'}"


def load(home: Path | None = None, **overrides: Any) -> Settings:
    """Settings for *home* (or PASSERELLE_HOME, or ./var) with its passerelle.toml."""
    home = (home or Path(os.environ.get("PASSERELLE_HOME", "var"))).expanduser().resolve()
    of_home = type("Settings", (Settings,), {
        "model_config": SettingsConfigDict(**{**Settings.model_config, "toml_file": home / SETTINGS_FILE})})
    return of_home(home=home, **overrides)
