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


@dataclass(frozen=True)
class Setting:
    """One configuration entry: ``env`` variable, Flask ``key``, ``default`` and its ``meaning``."""

    env: str
    key: str
    default: str | None
    meaning: str
    kind: type = str


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
    Setting("BREACH_NOTIFY_DATA_KEYS", "DATA_KEYS", None,
            "Comma-separated base64 AES-256 keys for contact data at rest, newest first (older keys still "
            "decrypt: rotation). Default: generated once in `instance/data-keys`. Share it across servers."),
    Setting("BREACH_NOTIFY_INDEX_KEY", "INDEX_KEY", None,
            "base64 HMAC key for blind indexes (lookups, de-duplication). Default: generated once in the "
            "instance folder. Never rotate it without re-indexing."),
    Setting("BREACH_NOTIFY_UPLOAD_MAX_BYTES", "UPLOAD_MAX_BYTES", "536870912",
            "Largest subject or evidence file accepted by upload, in bytes; larger answers 413.", int),
    Setting("BREACH_NOTIFY_IMPORT_PROCESSES", "IMPORT_PROCESSES", "1",
            "Worker processes normalising rows during an import (CLI and API).", int),
    Setting("BREACH_NOTIFY_PLAYBOOKS", "PLAYBOOKS_DIR", None,
            "Folder of regime playbooks (YAML). Default: the `incident_playbooks/` shipped with the code. "
            "A broken playbook stops start-up naming file, field and reason."),
    Setting("BREACH_NOTIFY_SCHEDULER", "SCHEDULER", "embedded",
            "`embedded`: `breach-notify serve` runs one in-process scheduler. `off`: run `breach-notify "
            "scheduler` as its own process (production)."),
    Setting("BREACH_NOTIFY_SWEEP_SECONDS", "SWEEP_SECONDS", "60",
            "Seconds between scheduler sweeps (deadline reminders and escalation).", int),
    Setting("BREACH_NOTIFY_REMINDER_OFFSETS", "REMINDER_OFFSETS", "24h,6h",
            "Reminders before each obligation's deadline: comma-separated durations (`d`, `h`, `m`, `s`).",
            tuple),
)


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read every ``SETTINGS`` entry from ``environ`` (default ``os.environ``) into a Flask config dict.

    Unset variables take their default; integers are converted (``ValueError`` names the variable).
    """
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env, setting.default)
        if raw is None:
            continue
        if setting.kind is tuple:
            config[setting.key] = parse_durations(setting.env, raw)
        elif setting.kind is int:
            try:
                config[setting.key] = int(raw)
            except ValueError as exc:
                raise ValueError(f"{setting.env} must be an integer, got {raw!r}") from exc
        else:
            config[setting.key] = raw
    return config


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
