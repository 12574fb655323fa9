"""Migrations: one head, models match them, and an un-migrated database is refused with the command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def test_digest_key_migration_fills_existing_identifiers(tmp_path: Path) -> None:
    """0012 gives every stored matching identifier its look-up key (push and address none), the import's
    look-up then finds them, and the downgrade restores the ``(kind, digest)`` index."""
    with _empty_engine(tmp_path) as engine:
        _check_digest_key_migration(engine)


def _check_digest_key_migration(engine: Engine) -> None:
    import hashlib

    from sqlalchemy import inspect, text
    from sqlmodel import Session

    from app.subjects import store
    from app.subjects.models import digest_key

    digests = {kind: hashlib.sha256(kind.encode()).hexdigest()[:32] for kind in ("email", "phone", "address")}
    db.upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO data_subject (id, jurisdiction_source, data_categories, has_email, has_phone, "
                          "has_push, has_postal, created_at, updated_at) VALUES (7, 'unknown', '[]', true, true, "
                          "false, true, '2026-03-02 10:00:00', '2026-03-02 10:00:00')"))
        for kind, digest in digests.items():
            conn.execute(text("INSERT INTO subject_identifier (subject_id, kind, digest, value_enc, usable) "
                              "VALUES (7, :kind, :digest, 'v1.x.y', true)"), {"kind": kind, "digest": digest})
    db.upgrade(engine)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT kind, digest_key FROM subject_identifier")).all())
    assert keys == {"email": digest_key("email", digests["email"]), "phone": digest_key("phone", digests["phone"]),
                    "address": None}
    assert keys["email"] == int(digests["email"][:16], 16) - (1 << 64) * (int(digests["email"][0], 16) >= 8)
    with Session(engine) as session:
        found = store.lookup(session, [("email", digests["email"]), ("phone", digests["phone"])])
    assert found == {("email", digests["email"]): 7, ("phone", digests["phone"]): 7}
    db.upgrade(engine)  # already at head: nothing to do
    command_downgrade(engine, "0011")
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("subject_identifier")}
    assert "ix_subject_identifier_lookup" in indexes and "ix_subject_identifier_digest_key" not in indexes


def test_redundant_subject_indexes_dropped_and_restored(tmp_path: Path) -> None:
    """0013 drops the two indexes that repeat a unique constraint's first column; look-ups by that column
    still use an index (the constraint's), and the downgrade puts both back."""
    from sqlalchemy import inspect, text

    dropped = {"subject_identifier": "ix_subject_identifier_subject_id",
               "incident_subject": "ix_incident_subject_incident_id"}
    with _empty_engine(tmp_path) as engine:
        db.upgrade(engine)
        for table, index in dropped.items():
            assert index not in {ix["name"] for ix in inspect(engine).get_indexes(table)}
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                for sql in ("SELECT kind FROM subject_identifier WHERE subject_id = 7",
                            "SELECT subject_id FROM incident_subject WHERE incident_id = 7"):
                    plan = " ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
                    assert "USING" in plan and "INDEX" in plan, plan
        command_downgrade(engine, "0012")
        for table, index in dropped.items():
            assert index in {ix["name"] for ix in inspect(engine).get_indexes(table)}


@contextmanager
def _empty_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, empty database of the suite's backend: a file on SQLite, or a PostgreSQL database
    of its own, dropped afterwards."""
    from tests.conftest import BACKEND, _pg_database

    databases = _pg_database() if BACKEND == "postgres" else iter([f"sqlite:///{tmp_path / 'empty.sqlite'}"])
    engine = db.make_engine(next(databases))
    try:
        yield engine
    finally:
        engine.dispose()
        next(databases, None)


def command_downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(db.alembic_config(engine), revision)


def test_cli_commands_stop_on_an_unmigrated_database_naming_what_to_do(tmp_path: Path) -> None:
    """Run from a folder without the instance (or before ``db upgrade``): a clear exit 2, not a SQL error;
    ``--help`` still works, and after the upgrade the same command runs."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite'}", "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "TESTING": True})
    runner = app.test_cli_runner()
    for args in (["incidents", "list"], ["users", "list"], ["subjects", "import", "1", __file__]):
        result = runner.invoke(args=args)
        assert result.exit_code == 2, (args, result.output)
        assert "not migrated" in result.output and "breach-notify db upgrade" in result.output
        assert str(tmp_path) in result.output and "Traceback" not in result.output
    assert runner.invoke(args=["incidents", "list", "--help"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    listed = runner.invoke(args=["incidents", "list"])
    assert listed.exit_code == 0 and "not migrated" not in listed.output


def test_subject_identifier_lookup_indexes_are_partial_and_still_used(tmp_path: Path) -> None:
    """0014: the digest_key and source_system indexes hold only non-NULL rows, and the import's and the
    evidence look-ups (``digest_key IN``/``= ANY``, ``source_system =``) still use them; the downgrade
    restores full indexes."""
    from sqlalchemy import text

    names = ("ix_subject_identifier_digest_key", "ix_subject_identifier_source_system")
    with _empty_engine(tmp_path) as engine:
        sqlite = engine.dialect.name == "sqlite"
        definition = ("SELECT sql FROM sqlite_master WHERE name = :n" if sqlite
                      else "SELECT indexdef FROM pg_indexes WHERE indexname = :n")
        keys = "IN (1, 2)" if sqlite else "= ANY(CAST(ARRAY[1, 2] AS BIGINT[]))"
        probes = {names[0]: f"SELECT subject_id FROM subject_identifier WHERE digest_key {keys}",
                  names[1]: "SELECT subject_id FROM subject_identifier WHERE source_system = 'crm'"}
        db.upgrade(engine)
        with engine.connect() as conn:
            if not sqlite:
                conn.execute(text("SET enable_seqscan = off"))
            for name in names:
                assert "WHERE" in conn.execute(text(definition), {"n": name}).scalar_one().upper(), name
                plan = " ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN {'QUERY PLAN ' * sqlite}"
                                                                          f"{probes[name]}")))
                assert name in plan, plan
        command_downgrade(engine, "0013")
        with engine.connect() as conn:
            for name in names:
                assert "WHERE" not in conn.execute(text(definition), {"n": name}).scalar_one().upper(), name
