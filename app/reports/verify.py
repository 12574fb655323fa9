"""Standalone verification of an export bundle (no application, no database): ``breach-notify export verify
BUNDLE`` or ``python -m app.reports.verify BUNDLE [--key PEM]``.

A bundle is a zip holding the report files, ``signing-key.pem``, ``manifest.json`` (``files``: name, size,
SHA-256; the report version; ``generated_at``; ``key_id``) and ``manifest.sig`` (base64 Ed25519 signature
over the exact bytes of ``manifest.json``). Verification checks the zip's integrity, every listed file's
size and hash, that no unlisted file is present, the key id, and the signature: with ``--key`` (the key from
the well-known URL) when given, else with the bundled key. Each problem names the file that fails.

The container is canonical, so that a change to any byte of the bundle fails, not only a change to a
member: :func:`write_zip` stores the members (no compression, so the bytes do not depend on the zlib build
of whoever verifies) in a fixed order (the listed files by name, then the manifest and its signature), all
dated ``generated_at`` (UTC) with fixed attributes, versions and flags. Once the members verify, the bundle
must equal, byte for byte, the zip :func:`write_zip` makes of them; zip headers, the central directory, a
trailing comment or appended bytes are thereby covered by the signature as well. A zip that cannot be read
at all (corrupt headers, an encryption flag, an unknown compression method) is a failure, never a crash.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "signing-key.pem"
FORMAT = "breach-notify-bundle/2"  # /2: the canonical stored container; /1 bundles (deflated) must be re-exported
FILE_MODE = 0o644 << 16  # external attributes: a regular file, rw-r--r-- (Unix)
UNIX = 3  # "version made by" host system
ZIP_VERSION = 20  # 2.0: the version needed to extract a stored member


def write_zip(members: Iterable[tuple[str, bytes]], *, generated_at: dt.datetime) -> bytes:
    """The canonical bundle zip of ``members`` (name, bytes) in the given order: stored, dated
    ``generated_at`` in UTC (the zip's 2-second resolution), fixed attributes; equal inputs give equal bytes."""
    stamp = generated_at.astimezone(dt.UTC).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=False) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.external_attr, info.create_system = zipfile.ZIP_STORED, FILE_MODE, UNIX
            info.create_version = info.extract_version = ZIP_VERSION
            archive.writestr(info, data)
    return out.getvalue()


def canonical_order(listed: Iterable[str]) -> list[str]:
    """Member order of a bundle: the manifest's files by name, then the manifest and its signature."""
    return [*sorted(listed), MANIFEST, SIGNATURE]


@dataclass
class Verification:
    """``ok`` when ``problems`` is empty; ``problems``: ``"<file>: <reason>"``; ``checked``: files hashed."""

    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems


def _public_key(pem: bytes) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def _key_id(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _read_all(name: str, raw: bytes, result: Verification) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            infos = archive.infolist()
            packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED or i.flag_bits & 0x1]
            if packed:  # checked before reading, so that a hostile zip cannot inflate to any size
                result.problems.append(f"{name}: compressed or encrypted member(s) {', '.join(packed)}: bundle "
                                       f"members are stored as they are ({FORMAT}; export an older bundle again)")
                return None
            members = {info.filename: archive.read(info) for info in infos}
    except Exception as exc:  # hostile input: any failure to read it is a failed verification, not a crash
        result.problems.append(f"{name}: not a readable zip or a member is corrupt "
                               f"({type(exc).__name__}: {exc})")
        return None
    if len(members) != len(infos):
        result.problems.append(f"{name}: a member name appears more than once")
    return members


def _check_container(name: str, raw: bytes, members: dict[str, bytes], manifest: dict[str, Any],
                     result: Verification) -> None:
    """Require the bundle to be the canonical zip of its (verified) members (see the module docstring)."""
    try:
        generated_at = dt.datetime.fromisoformat(str(manifest.get("generated_at")))
        listed = [str(entry.get("name")) for entry in manifest.get("files") or []]
        canonical = write_zip([(member, members[member]) for member in canonical_order(listed)],
                              generated_at=generated_at)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        result.problems.append(f"{name}: the canonical zip cannot be rebuilt ({type(exc).__name__}: {exc})")
        return
    if canonical != raw:
        at = next((i for i, (a, b) in enumerate(zip(canonical, raw, strict=False)) if a != b),
                  min(len(canonical), len(raw)))
        result.problems.append(f"{name}: the zip container differs from the canonical bundle at byte {at} "
                               f"(zip headers, dates, attributes, order or extra bytes were changed)")


def _check_files(members: dict[str, bytes], manifest: dict[str, Any], result: Verification) -> None:
    listed = set()
    for entry in manifest.get("files") or []:
        name = str(entry.get("name"))
        listed.add(name)
        data = members.get(name)
        if data is None:
            result.problems.append(f"{name}: listed in the manifest but missing from the bundle")
            continue
        if len(data) != entry.get("size"):
            result.problems.append(f"{name}: size {len(data)} differs from the manifest's {entry.get('size')}")
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            result.problems.append(f"{name}: SHA-256 differs from the manifest (the file was changed)")
        result.checked.append(name)
    for name in sorted(set(members) - listed - {MANIFEST, SIGNATURE}):
        result.problems.append(f"{name}: present in the bundle but not listed in the manifest")


def _check_signature(members: dict[str, bytes], manifest: dict[str, Any], trusted: bytes | None,
                     result: Verification) -> None:
    source = "the --key file" if trusted is not None else PUBLIC_KEY
    key = _public_key(trusted if trusted is not None else members.get(PUBLIC_KEY, b""))
    if key is None:
        result.problems.append(f"{PUBLIC_KEY if trusted is None else 'key'}: {source} is not an Ed25519 public key")
        return
    if manifest.get("key_id") != _key_id(key):
        result.problems.append(f"{MANIFEST}: key_id does not match {source}")
    try:
        signature = base64.b64decode(members.get(SIGNATURE, b"").strip(), validate=True)
        key.verify(signature, members[MANIFEST])
    except (InvalidSignature, binascii.Error, ValueError):
        result.problems.append(f"{SIGNATURE}: the Ed25519 signature does not verify over {MANIFEST} with {source} "
                               f"(the manifest or the signature was changed)")


def verify_bundle(path: Path, *, trusted_key_pem: bytes | None = None) -> Verification:
    """Check the bundle file at ``path`` (see the module docstring). Never raises for a bad bundle: read
    ``problems``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Verification(problems=[f"{path.name}: cannot be read ({exc})"])
    return verify_bytes(raw, name=path.name, trusted_key_pem=trusted_key_pem)


def verify_bytes(raw: bytes, *, name: str, trusted_key_pem: bytes | None = None) -> Verification:
    """Check a bundle's bytes; ``name`` (the file name) heads the problems about the zip as a whole."""
    result = Verification()
    members = _read_all(name, raw, result)
    if members is None:
        return result
    for required in (MANIFEST, SIGNATURE):
        if required not in members:
            result.problems.append(f"{required}: missing from the bundle")
    if result.problems:
        return result
    try:
        manifest = json.loads(members[MANIFEST].decode())
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        files = manifest.get("files")
        if not isinstance(manifest.get("report"), dict) or not isinstance(files, list) or not all(
                isinstance(f, dict) and isinstance(f.get("name"), str) for f in files):
            raise ValueError("report must be an object and files a list of {name, size, sha256}")
    except (ValueError, UnicodeDecodeError) as exc:
        result.problems.append(f"{MANIFEST}: unreadable ({exc})")
        manifest = {}
    result.manifest = manifest or None
    _check_files(members, manifest, result)
    _check_signature(members, manifest, trusted_key_pem, result)
    if not result.problems:
        _check_container(name, raw, members, manifest, result)
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI: print ``ok`` or each problem; exit 0 when the bundle verifies, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m app.reports.verify", description=__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--key", type=Path, help="trusted public key PEM (from the well-known URL)")
    args = parser.parse_args(argv)
    result = verify_bundle(args.bundle, trusted_key_pem=args.key.read_bytes() if args.key else None)
    for line in report_lines(result, args.bundle, trusted=args.key is not None):
        (sys.stdout if result.ok else sys.stderr).write(line + "\n")
    return 0 if result.ok else 1


def report_lines(result: Verification, path: Path, *, trusted: bool) -> list[str]:
    """Human lines for a verification result; ``trusted``: whether a trusted key (``--key``) was given.

    Without one, a bundle that verifies is only shown to be intact: its signature was checked with the key it
    carries itself, which whoever changes a bundle can replace with their own. It is called ``intact (NOT
    authenticated)``, never ``ok``, and the line says how to check who signed it."""
    if result.ok:
        version = (result.manifest or {}).get("report", {})
        detail = (f"{path.name}: {len(result.checked)} files and the signature verify (report {version.get('id')} "
                  f"v{version.get('number')}, key {(result.manifest or {}).get('key_id')})")
        if trusted:
            return [f"bundle ok: {detail} with the trusted key"]
        return [f"bundle intact (NOT authenticated): {detail} with the key inside the bundle",
                "  anyone who changes a bundle can sign it again with a key of their own: pass --key with the "
                "sender's key from https://<their server>/.well-known/breach-notify/signing-key to check who "
                "signed it"]
    return [f"bundle FAILED: {path.name}"] + [f"  {p}" for p in result.problems]


if __name__ == "__main__":
    raise SystemExit(main())
