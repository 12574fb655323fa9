"""Signed bundles: a bundle verifies; a one-byte change to any file, the manifest or the signature fails
naming it; the well-known key is the bundled key; ``breach-notify export verify`` exits 1 on tampering."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient, FlaskCliRunner

from app.reports.signing import public_pem
from app.reports.verify import main as verify_main
from app.reports.verify import verify_bundle, verify_bytes
from tests.reports.reports_sample import GDPR_INCIDENT, approved_report, bundle, file_incident, flip, members, rezip

HIPAA_INCIDENT: dict[str, Any] = {**GDPR_INCIDENT, "controller": {"name": "Example Clinic", "establishment": "US-CA",
                                                                  "sector": "health", "hipaa_covered_entity": True},
                                  "subjects": {"count": 700, "by_jurisdiction": {"US-CA": 700}}}


@pytest.fixture
def signed(client: FlaskClient, make_user: Any, tmp_path: Path) -> Path:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, HIPAA_INCIDENT)
    report = approved_report(client, drafter, approver, incident_id, "us-hipaa")
    _meta, data = bundle(client, drafter, incident_id, report["id"])
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    return path


def test_bundle_verifies_and_holds_the_expected_files(signed: Path, client: FlaskClient) -> None:
    result = verify_bundle(signed)
    assert result.ok, result.problems
    files = members(signed.read_bytes())
    assert set(files) == {"report.json", "report.schema.json", "report.pdf", "hhs-breach-portal.csv",
                          "signing-key.pem", "manifest.json", "manifest.sig"}
    assert result.manifest is not None and result.manifest["report"]["number"] == 1
    assert result.manifest["generated_at"] and {f["name"] for f in result.manifest["files"]} == set(files) - {
        "manifest.json", "manifest.sig"}
    key = client.get("/.well-known/breach-notify/signing-key")
    assert key.status_code == 200 and key.data == files["signing-key.pem"]
    assert verify_bundle(signed, trusted_key_pem=key.data).ok


@pytest.mark.parametrize("name", ["report.json", "report.schema.json", "report.pdf", "hhs-breach-portal.csv",
                                  "signing-key.pem", "manifest.json", "manifest.sig"])
def test_one_byte_change_anywhere_fails_naming_it(signed: Path, tmp_path: Path, name: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    files = members(signed.read_bytes())
    files[name] = flip(files[name], at=len(files[name]) - 3 if name == "manifest.sig" else None)
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(rezip(files))
    result = verify_bundle(tampered)
    assert not result.ok and any(p.startswith(name) or name in p for p in result.problems), result.problems
    assert verify_main([str(tampered)]) == 1
    assert name in capsys.readouterr().err


def test_the_same_members_in_another_zip_layout_fail(signed: Path) -> None:
    """Deflated, redated or reordered: the members and signature verify, the container does not."""
    data = signed.read_bytes()
    files = members(data)
    for other in (rezip(files), rezip(dict(reversed(files.items()))), data + b"\0", b"\0" + data):
        result = verify_bytes(other, name="bundle.zip")
        assert not result.ok and len(result.problems) == 1, result.problems
        assert result.problems[0].startswith("bundle.zip: ")


def test_a_resigned_bundle_fails_against_the_published_key(signed: Path, tmp_path: Path, client: FlaskClient) -> None:
    from app.reports.bundles import build_zip

    files = members(signed.read_bytes())
    content = {n: d for n, d in files.items() if n not in ("manifest.json", "manifest.sig", "signing-key.pem")}
    content["report.json"] = content["report.json"].replace(b"700", b"7")
    forged, _ = build_zip(content, key=Ed25519PrivateKey.generate(), report={},
                          generated_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    path = tmp_path / "forged.zip"
    path.write_bytes(forged)
    assert verify_bundle(path).ok  # self-consistent...
    published = client.get("/.well-known/breach-notify/signing-key").data
    result = verify_bundle(path, trusted_key_pem=published)  # ...but not signed by this server
    assert not result.ok and any("manifest.sig" in p for p in result.problems)
    assert public_pem(Ed25519PrivateKey.generate()) != published


def test_cli_export_verify(signed: Path, tmp_path: Path, runner: FlaskCliRunner, client: FlaskClient) -> None:
    ok = runner.invoke(args=["export", "verify", str(signed)])
    assert ok.exit_code == 0 and "bundle intact (NOT authenticated)" in ok.output and "--key" in ok.output
    key = tmp_path / "signing-key.pem"
    key.write_bytes(client.get("/.well-known/breach-notify/signing-key").data)
    trusted = runner.invoke(args=["export", "verify", str(signed), "--key", str(key)])
    assert trusted.exit_code == 0 and trusted.output.startswith("bundle ok: ")
    assert "with the trusted key" in trusted.output
    files = members(signed.read_bytes())
    files["report.pdf"] = flip(files["report.pdf"])
    tampered = tmp_path / "t.zip"
    tampered.write_bytes(rezip(files))
    bad = runner.invoke(args=["export", "verify", str(tampered)])
    assert bad.exit_code == 1 and "report.pdf" in bad.output


def test_every_byte_flip_fails_cleanly(signed: Path) -> None:
    """Each byte of the bundle in turn (local headers, member data, the central directory, its end record)
    flipped: every change fails verification, none raises."""
    data = signed.read_bytes()
    assert verify_bytes(data, name="bundle.zip").ok
    passed = [at for at in range(len(data)) if verify_bytes(flip(data, at), name="bundle.zip").ok]
    assert passed == []
    assert len(data) > 2000


def test_console_script_verifies_standalone(signed: Path, tmp_path: Path) -> None:
    """A regulator's run: the installed ``breach-notify`` in an empty folder with no BREACH_NOTIFY_*
    settings verifies (0) or names the changed file (1), and creates nothing (no instance, keys or database)."""
    script = Path(sys.executable).with_name("breach-notify")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BREACH_NOTIFY_", "FLASK_")) and k != "DATABASE_URL"}
    files = members(signed.read_bytes())
    files["report.json"] = flip(files["report.json"])
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(rezip(files))
    empty = tmp_path / "regulator"
    empty.mkdir()
    ok = subprocess.run([str(script), "export", "verify", str(signed)], cwd=empty, env=env, capture_output=True,
                        text=True, timeout=120, check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("bundle intact (NOT authenticated): bundle.zip"), (
        ok.stdout, ok.stderr)
    bad = subprocess.run([str(script), "export", "verify", str(tampered)], cwd=empty, env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode == 1 and "bundle FAILED: tampered.zip" in bad.stderr, (bad.stdout, bad.stderr)
    assert "report.json: SHA-256 differs" in bad.stderr and "Traceback" not in bad.stderr
    assert list(empty.iterdir()) == []
