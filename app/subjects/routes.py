"""Subject routes: upload a subject file or evidence (streamed to a temporary file), counts, rejects report."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, send_file, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

from app.accounts.access import READ, RESPOND, requires
from app.db import get_session
from app.errors import InvalidInput, NotFound
from app.incidents import flows
from app.incidents import service as incidents
from app.openapi import IdentifyForm, ImportForm, document
from app.subjects import evidence, service
from app.subjects.columns import parse_mapping
from app.subjects.errors import SubjectFileError
from app.subjects.models import SubjectImport

api = Blueprint("subjects_api", __name__, url_prefix="/api/incidents")
ui = Blueprint("subjects_ui", __name__)


IMPORT_FIELDS = frozenset({"file", "default_country", "mapping"})
IDENTIFY_FIELDS = frozenset({"file", "key", "source_system", "default_country"})
_PAGE_FIELDS = frozenset({"csrf_token"})  # the web page's form token
MAPPING_MAX_BYTES = 64 * 1024


def _ext(name: str) -> Any:
    return current_app.extensions[name]


def allow_upload() -> None:
    """Raise this request's body limit to ``UPLOAD_MAX_BYTES``; call before touching ``request.form``."""
    request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"]


@contextmanager
def uploaded(field: str = "file") -> Iterator[tuple[Path, str]]:
    """The multipart upload ``field`` saved to a temporary file (removed afterwards); 413 past the limit."""
    allow_upload()
    upload: FileStorage | None = request.files.get(field)
    if upload is None or not upload.filename:
        raise InvalidInput(f"{field}: attach a file (multipart/form-data)", details=[{"path": field,
                                                                                      "reason": "missing"}])
    suffix = Path(upload.filename).suffix.lower()[:10]
    with tempfile.TemporaryDirectory(prefix="bn-upload-") as folder:
        # the sender's own file name (made safe), so errors such as "patients.csv is empty" name their file
        path = Path(folder) / ((Path(secure_filename(upload.filename)).stem[:90] or "upload") + suffix)
        upload.save(path)
        yield path, upload.filename


def refuse_unknown_fields(known: frozenset[str]) -> None:
    """Raise ``InvalidInput`` naming each multipart field outside ``known``, or given more than once: a misspelt
    ``default_contry`` would otherwise be ignored without a word (unknown JSON keys are refused the same way),
    and of two ``file`` parts one would be dropped."""
    given = [*request.form.keys(), *request.files.keys()]
    unknown = sorted(set(given) - known - _PAGE_FIELDS)
    repeated = sorted(f for f in set(given) & known
                      if len(request.form.getlist(f)) + len(request.files.getlist(f)) > 1)
    problems = [(f, "unknown field") for f in unknown[:20]] + [(f, "given more than once") for f in repeated]
    if problems:
        listed = "; ".join(f"{f}: {reason}" for f, reason in problems)
        more = f" (and {len(unknown) - 20} more unknown)" if len(unknown) > 20 else ""
        raise InvalidInput(f"{listed}{more}: this takes each of {', '.join(sorted(known))} once",
                           details=[{"path": f[:100], "reason": reason} for f, reason in problems])


def _mapping() -> dict[str, str] | None:
    """The ``mapping`` part, as the CLI's ``--mapping`` file: a JSON/YAML file part, or the same text as a plain
    field; None without one. Raises ``InvalidInput`` (path ``mapping``) for one that cannot be used."""
    part = request.files.get("mapping")
    raw = part.stream.read(MAPPING_MAX_BYTES + 1) if part is not None else b""
    if part is not None and (raw or part.filename):  # a part sent with an empty file name still counts
        name = part.filename or "mapping"
    elif request.form.get("mapping"):
        raw, name = request.form["mapping"].encode(), "mapping"
    else:
        return None
    try:
        if len(raw) > MAPPING_MAX_BYTES:
            raise SubjectFileError(f"mapping file {name}: over {MAPPING_MAX_BYTES // 1024} KiB")
        return parse_mapping(raw, name=name)
    except SubjectFileError as exc:
        raise InvalidInput(str(exc), details=[{"path": "mapping", "reason": str(exc)}]) from exc


def _server_processes(setting: str | int) -> int:
    """Uploads are imported inside the web server, whose threads make forking workers unsafe by default:
    ``auto`` means in-process here; a number set explicitly is honoured."""
    return 1 if setting == "auto" else int(setting)


def _import(incident_id: int) -> service.ImportSummary:
    allow_upload()
    form = request.form
    refuse_unknown_fields(IMPORT_FIELDS)
    mapping = _mapping()
    with uploaded() as (path, name):
        summary = service.import_file(
            get_session(), clock=_ext("clock"), actor=g.user.actor, path=path, filename=name, keys=_ext("keys"),
            rejects_dir=Path(current_app.instance_path) / "imports", incident_id=incident_id, mapping=mapping,
            default_country=(form.get("default_country") or "").strip().upper() or None,
            processes=_server_processes(current_app.config["IMPORT_PROCESSES"]),
            cache_mib=current_app.config["IMPORT_CACHE_MIB"])
    flows.reassess(get_session(), clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                   playbooks=_ext("playbooks"))
    return summary


@api.post("/<int:incident_id>/subjects/import")
@document(form=ImportForm, ok=201, tag="subjects")
@requires(RESPOND)
def api_import(incident_id: int) -> tuple[Response, int]:
    """Multipart ``file`` (CSV/JSONL) [+ ``default_country``, ``mapping``] -> the import summary (201); its
    ``rejects_file`` is where to download the rejects report (:func:`api_rejects`), not a path on the server.
    Any other field is refused (422)."""
    summary = _import(incident_id).as_dict()
    if summary.get("rejects_file"):
        summary["rejects_file"] = url_for("subjects_api.api_rejects", incident_id=incident_id,
                                          import_id=summary["import_id"])
    return jsonify(summary), 201


@api.post("/<int:incident_id>/subjects/identify")
@document(form=IdentifyForm, tag="subjects")
@requires(RESPOND)
def api_identify(incident_id: int) -> Response:
    """Multipart evidence ``file`` + ``key`` (external_id|email|phone), or ``source_system`` alone."""
    allow_upload()
    session, form = get_session(), request.form
    refuse_unknown_fields(IDENTIFY_FIELDS)
    if "file" not in request.files and not (form.get("source_system") or "").strip():
        raise InvalidInput("give an evidence file with its key (external_id, email or phone), or a source_system "
                           "to select every subject from it", details=[{"path": "file", "reason": "missing"}])
    if form.get("source_system") and "file" not in request.files:
        result: dict[str, Any] = evidence.select_source_system(session, clock=_ext("clock"), actor=g.user.actor,
                                                               incident_id=incident_id,
                                                               source_system=form["source_system"])
    else:
        with uploaded() as (path, _name):
            result = evidence.identify(session, clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                                       keys=_ext("keys"), path=path, key=form.get("key", ""),
                                       default_country=(form.get("default_country") or None),
                                       source_system=(form.get("source_system") or None)).__dict__
    flows.reassess(session, clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                   playbooks=_ext("playbooks"))
    return jsonify(result)


@api.get("/<int:incident_id>/subjects")
@document(tag="subjects")
@requires(READ)
def api_reach(incident_id: int) -> Response:
    """Counts: total, per jurisdiction, per channel, unreachable (no contact data)."""
    incidents.get(get_session(), incident_id=incident_id)
    return jsonify(service.reach(get_session(), incident_id=incident_id).__dict__)


@ui.route("/incidents/<int:incident_id>/subjects", methods=["GET", "POST"])
@requires(READ)
def page(incident_id: int) -> str | Response | tuple[str, int]:
    """Upload form (responders) with the last summary, and the incident's imports; a refused upload shows its
    error on the page, with the API's status (422)."""
    session = get_session()
    incident = incidents.get(session, incident_id=incident_id)
    summary, error = None, None
    if request.method == "POST":
        if g.user.role not in RESPOND:
            return redirect(url_for("subjects_ui.page", incident_id=incident_id))
        try:
            summary = _import(incident_id)
        except InvalidInput as exc:
            session.rollback()
            error = exc.message
    html = render_template("subjects/page.html", incident=incident, summary=summary, error=error,
                           reach=service.reach(session, incident_id=incident_id),
                           affected=service.affected(session, incident_id=incident_id),
                           imports=service.imports_for(session, incident_id=incident_id))
    return (html, 422) if error else html


@ui.get("/imports/<int:import_id>/rejects.csv")
@requires(READ)
def rejects(import_id: int) -> Response:
    """Download an import's rejects report (line, column, kind, reason; no contact data)."""
    return _rejects_file(import_id)


@api.get("/<int:incident_id>/subjects/imports/<int:import_id>/rejects.csv")
@document(tag="subjects")
@requires(READ)
def api_rejects(incident_id: int, import_id: int) -> Response:
    """Download the rejects report of one of the incident's imports (CSV: line, column, kind, reason)."""
    return _rejects_file(import_id, incident_id=incident_id)


def _rejects_file(import_id: int, *, incident_id: int | None = None) -> Response:
    run = get_session().get(SubjectImport, import_id)
    if (run is None or not run.rejects_file or not Path(run.rejects_file).exists()
            or (incident_id is not None and run.incident_id != incident_id)):
        raise NotFound(f"no rejects report for import {import_id}")
    return send_file(run.rejects_file, mimetype="text/csv", as_attachment=True,
                     download_name=f"import-{import_id}-rejects.csv")
