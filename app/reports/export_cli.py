"""``breach-notify export ...``: ``bundle`` (needs the app and its database) and ``verify``, which a
regulator runs on their own machine: it needs no app instance, database, keys or playbooks and writes
nothing. The group is registered before the app is created (``app.cli.main``), so ``export verify`` never
creates one; only ``bundle`` loads the app, and its imports wait until it runs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli import needs_no_database
from app.reports.verify import report_lines, verify_bundle


@click.group("export")
def export_group() -> None:
    """Signed export bundles: make one, verify one."""


@export_group.command("bundle")
@click.argument("report_id", type=int)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def bundle_command(report_id: int, out_dir: Path) -> None:
    """Export an approved report as a signed bundle and copy it to --out."""
    from app.cli import cli_actor, fail
    from app.db import get_session
    from app.errors import BreachNotifyError
    from app.reports import bundles
    from app.reports.routes import app_signing_key

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    instance = Path(app.instance_path)
    try:
        bundle = bundles.create(get_session(), clock=app.extensions["clock"], actor=cli_actor(),
                                report_id=report_id, key=app_signing_key(app), instance=instance,
                                public_url=app.config["PUBLIC_URL"])
    except BreachNotifyError as exc:
        fail(exc)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundles.file_name(bundle)
    shutil.copyfile(instance / bundle.path, target)
    click.echo(f"{target} (bundle {bundle.id}, sha256 {bundle.sha256})")


@export_group.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="trusted public key PEM (from /.well-known/breach-notify/signing-key)")
@needs_no_database
def verify_command(bundle: Path, key_file: Path | None) -> None:
    """Check every byte, hash and the signature of BUNDLE; exit 1 naming what fails. Needs no database."""
    result = verify_bundle(bundle, trusted_key_pem=key_file.read_bytes() if key_file else None)
    for line in report_lines(result, bundle, trusted=key_file is not None):
        click.echo(line, err=not result.ok)
    if not result.ok:
        sys.exit(1)
