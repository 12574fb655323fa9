"""Configuration from the environment.

Every setting is listed in ``SETTINGS`` with its environment variable, default and meaning; the README's
configuration table is generated from the same list (``breach-notify config``), so they cannot drift.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class AutoCount:
    """Setting kind: ``auto`` or a whole number of 1 or more (kept as ``"auto"`` or an ``int``)."""


class EmailAddress:
    """Setting kind: one email address (``name@domain``), kept as text."""


@dataclass(frozen=True)
class Setting:
    """One configuration entry: ``env`` variable, Flask ``key``, ``default`` and its ``meaning``; ``kind`` the
    type it is read as (``str``, ``int``, ``float``, ``bool`` for on/off, ...) and, for numbers, the
    ``minimum`` allowed."""

    env: str
    key: str
    default: str | None
    meaning: str
    kind: type = str
    minimum: float | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "DATABASE_URL", None,
            "SQLAlchemy URL. Default: SQLite file `breach-notify.sqlite` in the instance folder. "
            "PostgreSQL: `postgresql+psycopg://user@host:5432/db`."),
    Setting("BREACH_NOTIFY_INSTANCE", "INSTANCE_PATH", None,
            "Instance folder (SQLite file, generated secret key, data keys). Default: `./instance`."),
    Setting("SECRET_KEY", "SECRET_KEY", None,
            "Flask session signing key. Default: generated once and kept in `instance/secret_key`."),
    Setting("BREACH_NOTIFY_MAX_BODY_BYTES", "MAX_CONTENT_LENGTH", "1048576",
            "Largest accepted request body in bytes (JSON and forms); larger answers 413.", int),
    Setting("BREACH_NOTIFY_LOG_LEVEL", "LOG_LEVEL", "INFO", "Python logging level."),
    Setting("BREACH_NOTIFY_LOG_FORMAT", "LOG_FORMAT", "json",
            "`json`: one JSON object per line (structlog) with request, incident and delivery ids. `console`: "
            "readable lines for development."),
    Setting("BREACH_NOTIFY_METRICS_TOKEN", "METRICS_TOKEN", None,
            "Bearer token Prometheus sends to `/metrics`. Unset: `/metrics` answers 404. Workers in their own "
            "processes report through prometheus-client's `PROMETHEUS_MULTIPROC_DIR`."),
    Setting("BREACH_NOTIFY_DATA_KEYS", "DATA_KEYS", None,
            "Comma-separated base64 AES-256 keys for contact data at rest, newest first (older keys still "
            "decrypt: rotation). Default: generated once in `instance/data-keys`. Share it across servers."),
    Setting("BREACH_NOTIFY_INDEX_KEY", "INDEX_KEY", None,
            "base64 HMAC key for blind indexes (lookups, de-duplication). Default: generated once in the "
            "instance folder. Never rotate it without re-indexing."),
    Setting("BREACH_NOTIFY_UPLOAD_MAX_BYTES", "UPLOAD_MAX_BYTES", "536870912",
            "Largest subject or evidence file accepted by upload, in bytes; larger answers 413.", int),
    Setting("BREACH_NOTIFY_UNIT_COSTS", "UNIT_COSTS", "email=0.002,push=0.0005,sms=0.01,letter=0.85,letter_page=0",
            "USD per message by channel, for the substitute-notice cost test (e.g. Cal. Civ. Code 1798.82(j)(3)); "
            "`letter_page` is added per printed page of a letter (pages measured in the incident's batches, else "
            "1). Letter batches record their cost with the same prices.", dict),
    Setting("BREACH_NOTIFY_IMPORT_PROCESSES", "IMPORT_PROCESSES", "auto",
            "Worker processes normalising, encrypting and indexing rows during an import; 1 works in the importing "
            "process. `auto`: the CLI uses 2 for a file of 8 MiB (about 50,000 rows) or more on a machine with 2 "
            "or more CPUs, else 1 (starting workers costs about a second); API uploads stay in the server "
            "process unless a number is set. On PostgreSQL a role that may set "
            "`session_replication_role` (a superuser, or `GRANT SET ON PARAMETER session_replication_role` from "
            "PostgreSQL 15) imports faster: references are checked per chunk instead of per row "
            "(docs/performance.md).", AutoCount),
    Setting("BREACH_NOTIFY_IMPORT_CACHE_MIB", "IMPORT_CACHE_MIB", "64",
            "SQLite only: page cache of an import's connection, in MiB (the random blind-index look-ups of a "
            "large import miss SQLite's 2 MiB default); the importing process's memory grows by up to this. "
            "0 keeps the default.", int),
    Setting("BREACH_NOTIFY_PLAYBOOKS", "PLAYBOOKS_DIR", None,
            "Folder of regime playbooks (YAML). Default: the `incident_playbooks/` shipped with the code. "
            "A broken playbook stops start-up naming file, field and reason."),
    Setting("BREACH_NOTIFY_NOTICE_MAX_GRADE", "NOTICE_MAX_GRADE", "8",
            "Readability of English notices: the US school grade (Coleman-Liau index) above which a notice's "
            "body is flagged. A flag is a warning shown with the checks; it never blocks approval.", float, 0),
    Setting("BREACH_NOTIFY_NOTICE_MAX_GRADE_DE", "NOTICE_MAX_GRADE_DE", "8",
            "Readability of German notices: the German school grade (Wiener Sachtextformel, first variant; 4 = "
            "very easy, 15 = very hard) above which a notice's body is flagged (a warning).", float, 0),
    Setting("BREACH_NOTIFY_NOTICE_MIN_EASE_FR", "NOTICE_MIN_EASE_FR", "60",
            "Readability of French notices: the reading ease (Flesch as adapted by Kandel and Moles; 0-100, "
            "higher is easier, 60-70 standard) below which a notice's body is flagged (a warning). Chinese "
            "notices get no readability score.", float, 0),
    Setting("BREACH_NOTIFY_NOTICE_MAX_SMS_SEGMENTS", "NOTICE_MAX_SMS_SEGMENTS", "3",
            "Most SMS segments a notice's SMS (and a voice notice's link SMS) may take; a longer one cannot be "
            "approved.", int, 1),
    Setting("BREACH_NOTIFY_NOTICE_SMS_NORMALISE", "NOTICE_SMS_NORMALISE", "on",
            "`on`: typographic quotes, dashes, ellipses and special spaces in an SMS become their GSM-7 "
            "equivalents before its segments are counted and it is sent (often GSM-7 instead of UCS-2: 153 "
            "instead of 67 characters per segment). `off`: SMS text is counted and sent as written. A version "
            "keeps the setting it was approved with, and is sent with it.", bool),
    Setting("BREACH_NOTIFY_SCHEDULER", "SCHEDULER", "embedded",
            "`embedded`: `breach-notify serve` runs one in-process scheduler. `off`: run `breach-notify "
            "scheduler` as its own process (production)."),
    Setting("BREACH_NOTIFY_SWEEP_SECONDS", "SWEEP_SECONDS", "60",
            "Seconds between scheduler sweeps (deadline reminders and escalation).", int),
    Setting("BREACH_NOTIFY_REMINDER_OFFSETS", "REMINDER_OFFSETS", "24h,6h",
            "Reminders before each obligation's deadline: comma-separated durations (`d`, `h`, `m`, `s`).",
            tuple),
    Setting("BREACH_NOTIFY_ESCALATION_EMAIL", "ESCALATION_EMAIL", None,
            "Sender address of an email to every active privacy officer (and admin) when an obligation is "
            "escalated (overdue): incident, duty, due time (UTC) and how overdue, never a data subject's contact "
            "data. Sent through the dispatch email channel (`sandbox`: recorded in the outbox viewer; `live`: "
            "`SMTP_*`). Unset: no email (the escalation is still audited and highlighted).", EmailAddress),
    Setting("BREACH_NOTIFY_PUBLIC_URL", "PUBLIC_URL", "http://127.0.0.1:5000",
            "Public base URL of this server: personal links (`/n/<token>`), the Twilio status callback "
            "(`/webhooks/twilio/status`) and the voice webhooks (`/webhooks/twilio/voice/answer`, `.../gather`, "
            "`.../status`) are built from it; Twilio signatures are checked against it."),
    Setting("BREACH_NOTIFY_DISPATCH_MODE", "DISPATCH_MODE", "sandbox",
            "`sandbox`: nothing leaves the machine; every message is recorded in the outbox viewer. `live`: send "
            "with the `SMTP_*`, `TWILIO_*` and `VAPID_*` settings (a channel without settings is skipped)."),
    Setting("BREACH_NOTIFY_WORKER", "WORKER", "embedded",
            "`embedded`: `breach-notify serve` runs one dispatch worker thread (SQLite's only option). `off`: run "
            "`breach-notify worker` processes (any number with PostgreSQL)."),
    Setting("BREACH_NOTIFY_DISPATCH_WORKERS", "DISPATCH_WORKERS", "1",
            "How many worker processes share the rate limits: each enforces rate / this number.", int),
    Setting("BREACH_NOTIFY_DISPATCH_CHANNELS", "DISPATCH_CHANNELS", "email,sms,voice,push,letter",
            "Default fallback chain per person, best first (a run may name its own)."),
    Setting("BREACH_NOTIFY_DISPATCH_RATES", "DISPATCH_RATES", "email=50,sms=1,voice=1,push=100",
            "Messages per second per channel (token bucket; `0` = unlimited). Twilio long code 1/s, short code "
            "100/s; voice calls 1/s (Twilio's default calls per second)."),
    Setting("BREACH_NOTIFY_DISPATCH_CONCURRENCY", "DISPATCH_CONCURRENCY", "email=2,sms=2,voice=1,push=4",
            "Parallel senders (threads, one connection each) per channel in each worker."),
    Setting("BREACH_NOTIFY_RECEIPT_TIMEOUTS", "RECEIPT_TIMEOUTS", "sms=600,voice=900",
            "Seconds to wait for a delivery receipt per channel before the person moves to the next channel."),
    Setting("BREACH_NOTIFY_DISPATCH_MAX_ATTEMPTS", "DISPATCH_MAX_ATTEMPTS", "5",
            "Attempts per delivery before a temporary failure counts as permanent.", int),
    Setting("BREACH_NOTIFY_DISPATCH_BACKOFF", "DISPATCH_BACKOFF", "30",
            "Base of the exponential backoff in seconds (base * 2^(attempt-1), full jitter, at most 1 h).", int),
    Setting("BREACH_NOTIFY_CLAIM_TIMEOUT", "CLAIM_TIMEOUT", "300",
            "Seconds a delivery may stay in `sending` before the sweeper re-queues it (its worker died).", int),
    Setting("BREACH_NOTIFY_VOICE_QUIET_HOURS", "VOICE_QUIET_HOURS", "08:00-21:00",
            "Local calling window of voice notices (`HH:MM-HH:MM`, end exclusive; `00:00-24:00` = always). Outside "
            "it a call waits for the window to open in the person's time zone (from the phone number and address)."),
    Setting("BREACH_NOTIFY_VOICE_MACHINE_POLICY", "VOICE_MACHINE_POLICY", "voicemail",
            "On an answering machine: `voicemail` (leave the short voicemail notice after the beep: delivered), "
            "`hangup` (leave nothing; retried like no answer) or `notice` (no detection: speak the notice)."),
    Setting("BREACH_NOTIFY_LINK_DAYS", "LINK_DAYS", "365", "Days a personal notice link stays valid.", int),
    Setting("BREACH_NOTIFY_LETTER_DROP", "LETTER_DROP", None,
            "Where print-and-post letter batches go (merged PDF + manifest CSV): a folder, or a print vendor's "
            "SFTP drop `sftp://user@host:22/path`. Unset: the `letter` channel has no sender and is skipped."),
    Setting("BREACH_NOTIFY_LETTER_SFTP_KEY", "LETTER_SFTP_KEY", None,
            "Private key file (OpenSSH or PEM) for the SFTP drop."),
    Setting("BREACH_NOTIFY_LETTER_SFTP_KNOWN_HOSTS", "LETTER_SFTP_KNOWN_HOSTS", None,
            "known_hosts file holding the SFTP drop's host key; an unknown or changed host key stops the upload. "
            "Default: `~/.ssh/known_hosts`."),
    Setting("BREACH_NOTIFY_LETTER_ORIGIN", "LETTER_ORIGIN", "US",
            "ISO country letters are posted from: address blocks of other countries end with the country name."),
    Setting("BREACH_NOTIFY_LETTER_MAIL_CLASS", "LETTER_MAIL_CLASS", "first_class",
            "Mail class written in the batch manifest for domestic letters (`international` for the others)."),
    Setting("BREACH_NOTIFY_LETTER_BATCH_SIZE", "LETTER_BATCH_SIZE", "500",
            "Most letters in one print-and-post batch.", int),
    Setting("BREACH_NOTIFY_LETTER_RETURN_DAYS", "LETTER_RETURN_DAYS", "30",
            "Days after the hand-over without returned mail before a letter counts as delivered (the run can "
            "then finish); returned mail imported later no longer moves the person on.", int),
    Setting("BREACH_NOTIFY_SIGNING_KEY", "SIGNING_KEY", None,
            "Ed25519 key signing regulator export bundles: PKCS#8 PEM or base64 of the 32-byte seed. Default: "
            "generated once in `instance/signing-key.pem`. Its public key is served at "
            "`/.well-known/breach-notify/signing-key`. Share it across servers."),
    Setting("BREACH_NOTIFY_WEBHOOK_ALLOW_PRIVATE", "WEBHOOK_ALLOW_PRIVATE", "off",
            "`on`: webhook URLs may resolve to loopback, private, link-local or reserved addresses (tests, labs "
            "only). `off`: refused, so the service cannot be used to reach internal hosts."),
    Setting("BREACH_NOTIFY_WEBHOOK_HTTP_HOSTS", "WEBHOOK_HTTP_HOSTS", "",
            "Comma-separated hosts a webhook URL may reach over plain `http://`; every other URL must be `https://`."),
    Setting("BREACH_NOTIFY_WEBHOOK_TIMEOUT", "WEBHOOK_TIMEOUT", "10",
            "Seconds one webhook POST may take. Retries use the dispatch backoff and attempt settings.", int),
    Setting("BREACH_NOTIFY_INTAKE_BASE_URLS", "INTAKE_BASE_URLS", "",
            "Links back to the source tools for intake, e.g. `thehive=https://thehive.example.org,"
            "iris=https://iris.example.org` (`{base}` in the mapping's link template)."),
    *(Setting(name, name, None, meaning) for name, meaning in (
        ("SMTP_HOST", "Live email: SMTP server host."),
        ("SMTP_PORT", "SMTP port (default 587 for starttls, 465 for tls, 25 for none)."),
        ("SMTP_SECURITY", "`starttls` (default), `tls` or `none` (loopback only)."),
        ("SMTP_USERNAME", "SMTP AUTH user (with SMTP_PASSWORD)."),
        ("SMTP_PASSWORD", "SMTP AUTH password."),
        ("SMTP_TIMEOUT", "SMTP socket timeout in seconds (default 30)."),
        ("SMTP_CA_FILE", "PEM bundle to trust for the SMTP server instead of the system store."),
        ("TWILIO_ACCOUNT_SID", "Live SMS: Twilio account SID (`AC...`)."),
        ("TWILIO_AUTH_TOKEN", "Twilio auth token; also verifies status-callback signatures."),
        ("TWILIO_FROM", "Sender number (E.164), or use TWILIO_MESSAGING_SERVICE_SID."),
        ("TWILIO_MESSAGING_SERVICE_SID", "Twilio messaging service (`MG...`)."),
        ("TWILIO_BASE_URL", "Redirect the Twilio API (sandbox peers only); unset in production."),
        ("TWILIO_TIMEOUT", "Twilio HTTP timeout in seconds (default 10)."),
        ("TWILIO_VOICE_FROM", "Caller ID of voice calls (E.164, a Twilio number); default TWILIO_FROM."),
        ("VAPID_PRIVATE_KEY", "Live Web Push: VAPID private key (PEM or raw base64url P-256)."),
        ("VAPID_SUBJECT", "VAPID subject, `mailto:` or `https:` URL."),
        ("WEBPUSH_TIMEOUT", "Web Push HTTP timeout in seconds (default 10)."),
    )),
)


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read every ``SETTINGS`` entry from ``environ`` (default ``os.environ``) into a Flask config dict.

    Unset variables, and variables set to blank text (``VAR=`` in a compose file or an env file), take their
    default; integers are converted (``ValueError`` names the variable).
    """
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is None or not raw.strip():
            raw = setting.default
        if raw is None:
            continue
        if setting.kind is dict:
            config[setting.key] = parse_prices(setting.env, raw)
        elif setting.kind is tuple:
            config[setting.key] = parse_durations(setting.env, raw)
        elif setting.kind is AutoCount:
            config[setting.key] = _auto_count(setting.env, raw)
        elif setting.kind is EmailAddress:
            config[setting.key] = _email_address(setting.env, raw)
        elif setting.kind in (int, float):
            config[setting.key] = _number(setting, raw)
        elif setting.kind is bool:
            config[setting.key] = flag(raw, setting.env)
        else:
            config[setting.key] = raw
    return config


def _number(setting: Setting, raw: str) -> int | float:
    """``raw`` as the setting's ``int`` or ``float``, at least its ``minimum``; ``ValueError`` naming it."""
    noun = "an integer" if setting.kind is int else "a number"
    try:
        value: int | float = int(raw) if setting.kind is int else float(raw)
    except ValueError as exc:
        raise ValueError(f"{setting.env} must be {noun}, got {raw!r}") from exc
    if setting.minimum is not None and value < setting.minimum:
        raise ValueError(f"{setting.env} must be at least {setting.minimum:g}, got {raw!r}")
    return value


def flag(value: object, name: str) -> bool:
    """An on/off setting: a ``bool`` as it is, or ``on``/``off`` (also ``true``/``false``, ``yes``/``no``,
    ``1``/``0``, any case); ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"{name} must be on or off, got {value!r}")


def _auto_count(env: str, raw: str) -> str | int:
    """``"auto"`` or a positive int; ``ValueError`` naming the variable otherwise."""
    if raw.strip().lower() == "auto":
        return "auto"
    if raw.strip().isdigit() and int(raw) >= 1:
        return int(raw)
    raise ValueError(f"{env} must be `auto` or a whole number of 1 or more, got {raw!r}")


def _email_address(env: str, raw: str) -> str | None:
    """One ``name@domain`` address, or None when blank; ``ValueError`` naming the variable otherwise."""
    value = raw.strip()
    if not value:
        return None
    name, at, domain = value.partition("@")
    if not (name and at and "." in domain) or any(c.isspace() or c in "<>,;@" for c in name + domain):
        raise ValueError(f"{env} must be one email address like breach-notify@example.org, got {raw!r}")
    return value


_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_durations(name: str, text: str) -> tuple[int, ...]:
    """``"24h,6h"`` -> ``(86400, 21600)`` seconds; ``ValueError`` naming ``name`` on a bad item."""
    values = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        number, unit = item[:-1], item[-1:]
        if unit not in _UNITS or not number.isdigit():
            raise ValueError(f"{name}: {item!r} is not a duration like 24h, 30m, 2d or 90s")
        values.append(int(number) * _UNITS[unit])
    return tuple(sorted(values, reverse=True))


def parse_prices(name: str, text: str) -> dict[str, float]:
    """``"email=0.002,sms=0.01"`` -> ``{"email": 0.002, "sms": 0.01}``; ``ValueError`` naming ``name``."""
    prices: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        try:
            prices[key.strip()] = float(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {item!r} is not channel=price") from exc
        if not sep:
            raise ValueError(f"{name}: {item!r} is not channel=price")
    return prices


def instance_secret(instance_path: Path, name: str = "secret_key") -> str:
    """Return the secret kept in ``instance_path/name``, generating it (0600) on first use."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def markdown_table() -> str:
    """The configuration table in Markdown, for the README."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default is not None else "(see meaning)"
        lines.append(f"| `{s.env}` | {default} | {s.meaning} |")
    return "\n".join(lines)
