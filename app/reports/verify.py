"""Standalone verification of an export bundle (no application, no database): ``breach-notify export verify
BUNDLE`` or ``python -m app.reports.verify BUNDLE [--key PEM]``.

A bundle is a zip holding the report files, ``signing-key.pem``, ``manifest.json`` (``files``: name, size,
SHA-256; the report version; ``generated_at``; ``key_id``) and ``manifest.sig`` (base64 Ed25519 signature
over the exact bytes of ``manifest.json``). Verification checks the zip's integrity, every listed file's
size and hash, that no unlisted file is present, the key id, and the signature: with ``--key`` (the key from
the well-known URL) when given, else with the bundled key. Each problem names the file that fails.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "signing-key.pem"
FORMAT = "breach-notify-bundle/1"


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


def _read_all(path: Path, result: Verification) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        result.problems.append(f"{path.name}: not a readable zip or a member is corrupt ({exc})")
        return None


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
    """Check a bundle (see the module docstring). Never raises for a bad bundle: read ``problems``."""
    result = Verification()
    members = _read_all(path, result)
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
    except (ValueError, UnicodeDecodeError) as exc:
        result.problems.append(f"{MANIFEST}: unreadable ({exc})")
        manifest = {}
    result.manifest = manifest or None
    _check_files(members, manifest, result)
    _check_signature(members, manifest, trusted_key_pem, result)
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI: print ``ok`` or each problem; exit 0 when the bundle verifies, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m app.reports.verify", description=__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--key", type=Path, help="trusted public key PEM (from the well-known URL)")
    args = parser.parse_args(argv)
    result = verify_bundle(args.bundle, trusted_key_pem=args.key.read_bytes() if args.key else None)
    for line in report_lines(result, args.bundle):
        (sys.stdout if result.ok else sys.stderr).write(line + "\n")
    return 0 if result.ok else 1


def report_lines(result: Verification, path: Path) -> list[str]:
    """Human lines for a verification result."""
    if result.ok:
        version = (result.manifest or {}).get("report", {})
        return [f"bundle ok: {path.name}: {len(result.checked)} files and the signature verify "
                f"(report {version.get('id')} v{version.get('number')}, key {(result.manifest or {}).get('key_id')})"]
    return [f"bundle FAILED: {path.name}"] + [f"  {p}" for p in result.problems]


if __name__ == "__main__":
    raise SystemExit(main())
