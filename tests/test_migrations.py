"""Migrations: one head, models match them, and an un-migrated database is refused with the command."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from app import create_app, db


def test_single_head() -> None:
    script = ScriptDirectory.from_config(db.alembic_config(db.make_engine("sqlite://")))
    assert len(script.get_heads()) == 1


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_unmigrated_database_is_refused_with_the_command(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}", "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "TESTING": True})
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 503 and "breach-notify db upgrade" in page.get_data(as_text=True)
    api = client.get("/api/incidents")
    assert api.status_code == 503 and api.json["error"] == "not_migrated"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["schema"] == "not migrated"
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").json == {"status": "ok", "database": "ok", "schema": "current"}


def test_healthz_reports_database(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200


def test_secret_key_generated_once_in_instance(tmp_path: Path) -> None:
    first = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    assert first == second and len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
