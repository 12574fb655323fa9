"""Print-and-post batches handed to a real SFTP server on loopback (asyncssh) and to a folder; the merged PDF
is read back with pdftotext letter by letter in manifest order."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.audit import service as audit
from app.dispatch.models import DeliveryAttempt
from app.letters import flows
from app.letters.drops import DropError, FolderDrop, SftpDrop, drop_from_config
from app.letters.models import LetterBatch, LetterBatchItem
from app.sandbox.sftp_peer import SftpPeer
from tests.letters.letters_support import PEOPLE, deliveries, letters_setup, pdf_pages_text

LETTER_PEOPLE = [p for p in PEOPLE if p[3]]


def test_batch_over_sftp_has_every_letter_in_manifest_order(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    root = tmp_path / "vendor"
    with SftpPeer(root) as peer:
        setup = letters_setup(app, client, make_user, session, tmp_path, peer.settings())
        waiting = deliveries(session, setup.run.id or 0, "letter")
        assert len(waiting) == len(LETTER_PEOPLE) and {d.state for d in waiting} == {"queued"}
        outcome = flows.batch(setup.app, session, actor="test", incident_id=setup.incident_id)
        assert outcome.error is None and outcome.failed == {} and outcome.batch is not None
        batch = outcome.batch
        assert sorted(p.name for p in root.iterdir()) == sorted([batch.pdf_name, batch.manifest_name])
        pdf, manifest = (root / batch.pdf_name).read_bytes(), (root / batch.manifest_name).read_bytes()
        assert hashlib.sha256(pdf).hexdigest() == batch.pdf_sha256
        assert hashlib.sha256(manifest).hexdigest() == batch.manifest_sha256
        assert batch.destination == f"sftp://printer@127.0.0.1:{peer.port}/"
        # a second batch finds nothing waiting
        assert flows.batch(setup.app, session, actor="test", incident_id=setup.incident_id).batch is None

    rows = list(csv.DictReader(io.StringIO(manifest.decode("utf-8"))))
    assert [int(r["delivery_id"]) for r in rows] == [d.id for d in waiting]
    assert [r["addressee"] for r in rows] == [p[1] for p in LETTER_PEOPLE]
    assert [r["country"] for r in rows] == ["US", "DE", "GB", "JP", "CN"]
    assert [r["mail_class"] for r in rows] == ["first_class"] + ["international"] * 4
    by_name = {r["addressee"]: [r[f"address_{n}"] for n in range(1, 9) if r[f"address_{n}"]] for r in rows}
    assert by_name["Maria Example"] == ["742 Evergreen Terrace", "SPRINGFIELD, CA 90001"]
    assert by_name["Jörg Müller"] == ["Invalidenstraße 116", "10115 BERLIN", "GERMANY"]
    assert by_name["Jane Doe"] == ["10 Downing Street", "LONDON", "SW1A 2AA", "UNITED KINGDOM"]
    assert by_name["山田太郎"] == ["〒100-0001", "東京都", "千代田区千代田1-1", "JAPAN"]

    path = tmp_path / "merged.pdf"
    path.write_bytes(pdf)
    assert sum(int(r["pages"]) for r in rows) == batch.pages == len(pdf_pages_text(path).split("\f")) - 1
    names = [r["addressee"] for r in rows]
    for row in rows:
        first, pages = int(row["first_page"]), int(row["pages"])
        text = pdf_pages_text(path, first, first + pages - 1)
        assert row["addressee"] in text and "Notice of Data Breach" in text
        assert all(other not in text for other in names if other != row["addressee"])
        assert by_name[row["addressee"]][0] in text

    sent = deliveries(session, setup.run.id or 0, "letter")
    assert {d.state for d in sent} == {"sent"} and {d.provider_id for d in sent} == {batch.reference}
    items = session.exec(select(LetterBatchItem).order_by(LetterBatchItem.position)).all()
    assert [i.delivery_id for i in items] == [d.id for d in waiting]
    accepted = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.provider_id == batch.reference)).all()
    assert len(accepted) == len(LETTER_PEOPLE) and {a.outcome for a in accepted} == {"accepted"}
    assert audit.verify(session).ok


def test_batch_to_a_folder_and_a_failed_hand_over(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the drop folder should be")
    setup = letters_setup(app, client, make_user, session, tmp_path, {"LETTER_DROP": str(blocked)})
    failed = flows.batch(setup.app, session, actor="test", incident_id=setup.incident_id)
    assert failed.batch is None and failed.error and "not-a-folder" in failed.error
    letters = deliveries(session, setup.run.id or 0, "letter")
    assert {d.state for d in letters} == {"failed_temporary"} and {d.attempts for d in letters} == {1}
    assert session.exec(select(LetterBatch)).all() == []

    folder = tmp_path / "print-drop"
    setup.app.config["LETTER_DROP"] = str(folder)
    for d in letters:  # the backoff has passed
        d.next_attempt_at = setup.run.created_at
        session.add(d)
    session.commit()
    runner = setup.app.test_cli_runner()
    result = runner.invoke(args=["letters", "batch", str(setup.incident_id)])
    assert result.exit_code == 0, result.output
    batch = session.exec(select(LetterBatch)).one()
    assert f"batch {batch.reference}: 5 letters" in result.output and batch.pdf_sha256 in result.output
    assert (folder / batch.pdf_name).is_file() and (folder / batch.manifest_name).is_file()
    assert not list(folder.glob("*.part"))
    assert {d.state for d in deliveries(session, setup.run.id or 0, "letter")} == {"sent"}
    listing = runner.invoke(args=["letters", "list", str(setup.incident_id)])
    assert "0 letters waiting, 5 handed over" in listing.output and batch.reference in listing.output


def test_sftp_drop_refuses_an_unknown_host_key_and_existing_files(tmp_path: Path) -> None:
    with SftpPeer(tmp_path / "vendor") as peer:
        drop = drop_from_config(peer.settings("/"))
        assert isinstance(drop, SftpDrop) and drop.port == peer.port and drop.username == "printer"
        drop.put([("a.pdf", b"%PDF-1.7 one")])
        with pytest.raises(DropError, match=r"a\.pdf already exists"):
            drop.put([("a.pdf", b"%PDF-1.7 two")])
        assert (tmp_path / "vendor" / "a.pdf").read_bytes() == b"%PDF-1.7 one"
        stranger = tmp_path / "known_hosts"
        other_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        stranger.write_text(f"[127.0.0.1]:{peer.port} {other_key}")
        with pytest.raises(DropError, match=r"BadHostKeyException"):
            replace(drop, known_hosts=str(stranger)).put([("b.pdf", b"x")])
        assert not (tmp_path / "vendor" / "b.pdf").exists()
    assert isinstance(drop_from_config({"LETTER_DROP": str(tmp_path)}), FolderDrop)
    assert drop_from_config({}) is None
    with pytest.raises(ValueError, match="sftp://user@host"):
        drop_from_config({"LETTER_DROP": "sftp:///no-host"})
