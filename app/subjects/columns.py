"""Canonical subject-file columns and header matching.

Header matching ignores case, spaces, ``-`` and ``_`` and knows the usual synonyms (``E-Mail``,
``Mobile``, ``ZIP``, ``Postcode``, ``State``, ``Province``, ``First Name``, ``Surname``...). A mapping file
(``{canonical: source_header}``, JSON or YAML) overrides the automatic match.

A name given in parts (``given_name``, ``middle_name``, ``family_name``) becomes the subject's
``full_name`` when the row has none (see :func:`app.subjects.normalise.normalise_row`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from app.subjects.errors import SubjectFileError

CANONICAL_COLUMNS: tuple[str, ...] = (
    "external_id",
    "full_name",
    "given_name",
    "middle_name",
    "family_name",
    "email",
    "phone",
    "push_subscription",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "preferred_language",
    "data_categories",
    "source_system",
)
"""Every column a subject file may carry, in report order."""

CONTACT_COLUMNS: frozenset[str] = frozenset({"email", "phone", "push_subscription", "address_line1"})
"""A file must have at least one of these, or it is rejected up front."""

NAME_PART_COLUMNS: tuple[str, ...] = ("given_name", "middle_name", "family_name")
"""Parts of a person's name, in the order they are joined into ``full_name`` when a row has none."""

TEXT_ONLY_COLUMNS: frozenset[str] = frozenset({"phone", "postal_code", "external_id"})
"""Columns that are always text: leading zeros are kept, nothing is read as a number."""

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "externalid", "customerid", "customernumber", "userid", "subjectid", "recordid"),
    "full_name": ("name", "fullname", "displayname", "customername", "contactname"),
    "given_name": ("givenname", "givennames", "firstname", "firstnames", "fname", "forename", "forenames",
                   "vorname", "prénom", "prenom", "nombre", "nome"),
    "middle_name": ("middlename", "middlenames", "middleinitial", "middleinitials"),
    "family_name": ("familyname", "lastname", "lname", "surname", "surnames", "nachname", "familienname", "nom",
                    "nomdefamille", "apellido", "apellidos", "sobrenome"),
    "email": ("email", "e-mail", "emailaddress", "mail", "emailadresse", "courriel", "correo",
              "correoelectrónico", "correoelectronico"),
    "phone": ("phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "cell", "cellphone",
              "telephone", "tel", "msisdn", "sms", "telefon", "telefonnummer", "handy", "handynummer",
              "mobilnummer", "téléphone", "portable", "teléfono", "telefono", "telefone", "celular", "móvil"),
    "push_subscription": ("push", "pushsubscription", "webpush", "webpushsubscription", "subscription"),
    "address_line1": ("address", "address1", "addressline1", "street", "streetaddress", "addr1", "adresse",
                      "anschrift", "strasse", "straße", "rue", "dirección", "direccion", "endereço", "endereco"),
    "address_line2": ("address2", "addressline2", "addr2"),
    "city": ("city", "town", "locality", "ort", "stadt", "wohnort", "ville", "ciudad", "cidade"),
    "region": ("region", "state", "province", "county", "stateprovince", "subdivision", "bundesland", "région",
               "provincia", "estado"),
    "postal_code": ("postalcode", "zip", "zipcode", "postcode", "plz", "postleitzahl", "codepostal",
                    "códigopostal", "codigopostal", "cep"),
    "country": ("country", "countrycode", "nation", "land", "pays", "país", "pais"),
    "preferred_language": ("preferredlanguage", "language", "lang", "locale", "sprache", "langue", "idioma"),
    "data_categories": ("datacategories", "categories", "datacategory"),
    "source_system": ("sourcesystem", "source", "system"),
}

_IGNORED = re.compile(r"[\s\-_.]+")


def header_key(header: str) -> str:
    """Fold a header for matching: strip a BOM, lower-case, drop spaces, ``-``, ``_`` and ``.``."""
    return _IGNORED.sub("", header.replace("\ufeff", "")).casefold()


# English, with the commonest German, French, Spanish and Portuguese headers (GDPR and LGPD controllers' exports)
SYNONYMS: Mapping[str, str] = MappingProxyType(
    {header_key(s): canonical for canonical, names in _SYNONYMS.items() for s in (canonical, *names)}
)
"""Folded header -> canonical column."""


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """How the file's headers map onto canonical columns.

    Attributes:
        by_source: source header (exactly as in the file) -> canonical column.
        unmapped: source headers that map to nothing (their values are ignored; report them once).
        overrides: canonical -> source header pairs that came from the mapping file.
    """

    by_source: Mapping[str, str]
    unmapped: tuple[str, ...]
    overrides: Mapping[str, str]

    @property
    def columns(self) -> frozenset[str]:
        """Canonical columns present in the file."""
        return frozenset(self.by_source.values())

    def resolve(self, source: str) -> str | None:
        """Canonical column for ``source``; headers unseen so far (JSONL keys) match by synonym."""
        if source in self.by_source:
            return self.by_source[source]
        if source in self.unmapped or source in self.overrides.values():
            return None
        canonical = SYNONYMS.get(header_key(source))
        return None if canonical in self.overrides else canonical


def match_headers(
    headers: Sequence[str], mapping: Mapping[str, str] | None = None, *, per_record: bool = False
) -> HeaderMap:
    """Match file headers to canonical columns.

    Args:
        headers: the header row, in file order.
        mapping: optional ``{canonical: source_header}`` overrides (see :func:`load_mapping`).
            A mapped source header is matched exactly, else by its folded form; the canonical
            column it names no longer matches automatically.
        per_record: JSONL keys gathered from several records: two keys may map to one column
            (the reader rejects a record that has both).

    Raises:
        SubjectFileError: a mapping names an unknown column or a header the file lacks, or feeds one header
            to two columns; two headers fold to the same name or map to the same column; or no contact column
            (email, phone, push_subscription, address_line1) is present.
    """
    overrides = _resolve_overrides(headers, mapping or {})
    if not per_record:
        _reject_duplicate_headers(headers)
    by_source: dict[str, str] = {}
    seen: dict[str, str] = {}
    unmapped: list[str] = []
    for header in headers:
        canonical = _canonical_for(header, overrides)
        if canonical is None:
            unmapped.append(header)
            continue
        if canonical in seen and not per_record:
            raise SubjectFileError(
                f"headers {seen[canonical]!r} and {header!r} both map to column {canonical!r}; "
                "keep one, or choose one in a mapping file",
                column=canonical,
            )
        seen.setdefault(canonical, header)
        by_source[header] = canonical
    if not CONTACT_COLUMNS & set(by_source.values()):
        raise SubjectFileError(
            "no contact column found: the file needs at least one of "
            + ", ".join(sorted(CONTACT_COLUMNS))
            + f" (headers seen: {', '.join(repr(h) for h in headers) or 'none'})"
        )
    return HeaderMap(MappingProxyType(by_source), tuple(unmapped), MappingProxyType(overrides))


def _canonical_for(header: str, overrides: Mapping[str, str]) -> str | None:
    for column, source in overrides.items():
        if source == header:
            return column
    canonical = SYNONYMS.get(header_key(header))
    return None if canonical in overrides else canonical


def _reject_duplicate_headers(headers: Iterable[str]) -> None:
    folded: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        if not key:
            continue
        if key in folded:
            raise SubjectFileError(
                f"duplicate header: {folded[key]!r} and {header!r} are the same column", column=header
            )
        folded[key] = header


def _resolve_overrides(headers: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """``{canonical column: the file's header}`` for a mapping; its columns match ignoring case, spaces, ``-``
    and ``_`` as headers do. Raises ``SubjectFileError`` (part ``mapping``) for an unknown column, a header the
    file lacks, or a header fed to two columns."""
    by_key = {header_key(h): h for h in headers}
    canonical_by_key = {header_key(c): c for c in CANONICAL_COLUMNS}
    resolved: dict[str, str] = {}
    for given, source in mapping.items():
        canonical = canonical_by_key.get(header_key(given))
        if canonical is None:
            raise SubjectFileError(f"mapping names unknown column {given!r}; known: {', '.join(CANONICAL_COLUMNS)}",
                                   column=given, part="mapping")
        if canonical in resolved:
            raise SubjectFileError(f"mapping gives column {canonical!r} twice", column=canonical, part="mapping")
        actual: str | None = source if source in headers else by_key.get(header_key(source))
        if actual is None:
            raise SubjectFileError(f"mapping for {canonical!r} names header {source!r}, which the file does not have",
                                   column=canonical, part="mapping")
        taken = next((column for column, header in resolved.items() if header == actual), None)
        if taken is not None:
            raise SubjectFileError(f"mapping: header {actual!r} is mapped to both {taken} and {canonical}; a header "
                                   "feeds one column", column=canonical, part="mapping")
        resolved[canonical] = actual
    return resolved


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; raises ``SubjectFileError`` for a key given twice (``json`` keeps the
    last one without a word)."""
    keys = [key for key, _ in pairs]
    if repeated := sorted({key for key in keys if keys.count(key) > 1}):
        raise SubjectFileError(f"mapping gives {', '.join(map(repr, repeated))} more than once", part="mapping")
    return dict(pairs)


def load_mapping(path: Path) -> dict[str, str]:
    """Read a mapping file: a JSON or YAML object ``{canonical_column: source_header}``.

    JSON is used for ``.json`` files, YAML otherwise (YAML also reads JSON).

    Raises:
        SubjectFileError: the file is not UTF-8, not valid JSON/YAML, or not a flat object of strings.
    """
    return parse_mapping(path.read_bytes(), name=path.name)


def parse_mapping(raw: bytes, *, name: str) -> dict[str, str]:
    """A mapping's bytes (an uploaded part, or a file's) as ``{canonical_column: source_header}``: JSON when
    ``name`` ends in ``.json``, YAML otherwise (YAML also reads JSON). Raises ``SubjectFileError`` naming ``name``
    as :func:`load_mapping` does."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"mapping file {name}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        raise SubjectFileError(message, part="mapping") from exc
    try:
        is_json = name.lower().endswith(".json")
        data = json.loads(text, object_pairs_hook=_unique_keys) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SubjectFileError(f"mapping file {name}: cannot parse ({exc.__class__.__name__})",
                               part="mapping") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise SubjectFileError(f"mapping file {name}: expected an object of column: header strings", part="mapping")
    return {str(k): str(v) for k, v in data.items()}
