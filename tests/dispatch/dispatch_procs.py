"""``breach-notify worker`` subprocesses for the PostgreSQL crash and concurrency tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask

BIN = Path(sys.executable).with_name("breach-notify")
PYCACHE = Path(tempfile.gettempdir()) / "breach-notify-dispatch-pycache"
THREADS = 2  # sender threads per channel in each worker
BATCH = 20  # deliveries claimed ahead per channel


def worker_env(app: Flask, channel_settings: dict[str, str], **extra: str) -> dict[str, str]:
    """Environment for a worker on the test database, instance folder (data keys) and the peers."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"DATABASE_URL": app.config["DATABASE_URL"], "BREACH_NOTIFY_INSTANCE": app.instance_path,
                "SECRET_KEY": app.config["SECRET_KEY"], "BREACH_NOTIFY_LOG_LEVEL": "WARNING",
                "PYTHONPYCACHEPREFIX": str(PYCACHE), "BREACH_NOTIFY_DISPATCH_RATES": "email=0,sms=0,push=0",
                "BREACH_NOTIFY_DISPATCH_CONCURRENCY": f"email={THREADS},sms={THREADS},push={THREADS}",
                "BREACH_NOTIFY_CLAIM_TIMEOUT": "2", "BREACH_NOTIFY_DISPATCH_BACKOFF": "1"})
    for key, value in channel_settings.items():
        env["BREACH_NOTIFY_DISPATCH_MODE" if key == "DISPATCH_MODE" else key] = value
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[Any]:
    """Start ``breach-notify worker`` with ``env``; output goes to ``log``."""
    handle = log.open("ab")
    return subprocess.Popen([str(BIN), "worker", "--batch", str(BATCH), "--sweep-seconds", "0.5", *args], env=env,
                            stdout=handle, stderr=subprocess.STDOUT)
