"""Fixtures: one migrated database per run (SQLite file, or a uniquely named PostgreSQL database when
``BREACH_TEST_DB=postgres``), emptied after every test; ``app``, ``client``, ``runner``, ``clock``, users.

Under ``CI=true`` an unreachable PostgreSQL fails the run; it never skips.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import app.models
from app import create_app, db
from app.accounts import service as accounts
from app.clock import FixedClock
from app.sandbox.smtp_peer import SmtpPeer
from tests.support import T0

BACKEND = os.environ.get("BREACH_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("BREACH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_report_header(config: Any) -> str:
    return f"breach-notify database backend: {BACKEND}"


def _pg_database() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {type(exc).__name__}"
        if os.environ.get("CI") == "true":
            pytest.exit(message, returncode=3)
        pytest.skip(message)
    name = f"bn_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for the whole run."""
    if BACKEND == "postgres":
        gen = _pg_database()
        url = next(gen)
    else:
        gen = None
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    yield url
    if gen is not None:
        next(gen, None)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The run's engine; every table is emptied after the test."""
    engine = db.make_engine(database_url)
    yield engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def clock() -> FixedClock:
    """The test clock, frozen at 2026-03-02 10:00 UTC."""
    return FixedClock(T0)


@pytest.fixture
def app(engine: Engine, database_url: str, clock: FixedClock, tmp_path: Path) -> Flask:
    """The application on the test database with the frozen clock (CSRF on, as in production)."""
    return create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                       "SECRET_KEY": "test-secret", "CLOCK": clock, "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(session: Session, clock: FixedClock) -> Any:
    """``make_user(role, email=None, must_change_password=False) -> accounts.NewUser`` with an API token.

    Users are settled (their password need not be changed at sign-in) unless asked otherwise."""

    def make(role: str, email: str | None = None, must_change_password: bool = False) -> accounts.NewUser:
        address = email or f"{role}-{uuid.uuid4().hex[:6]}@example.org"
        return accounts.create_user(session, clock=clock, email=address, role=role, actor="test", with_token=True,
                                    must_change_password=must_change_password)

    return make


@pytest.fixture
def plain_peer() -> Iterator[SmtpPeer]:
    """A loopback SMTP server (aiosmtpd, no TLS, no AUTH) that keeps what it receives."""
    peer = SmtpPeer()
    peer.start()
    yield peer
    peer.stop()
