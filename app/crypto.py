"""Protection at rest for contact data: authenticated field encryption and keyed blind indexes.

* :class:`FieldCipher` - AES-256-GCM (``cryptography``'s ``AESGCM``), 96-bit random nonce, 128-bit
  tag, optional associated data binding a token to its column. Several keys: the first encrypts,
  all decrypt, :meth:`FieldCipher.rotate` re-encrypts under the first.
* :class:`BlindIndex` - HMAC-SHA256 under a separate key, with a per-purpose sub-key, truncated to
  128 bits (32 hex characters): equality look-ups and de-duplication without decrypting.
* :func:`load_keys` - keys from environment values, else key files in the instance folder.

Token format (text, ASCII): ``v1.<kid>.<base64url(nonce || ciphertext || tag)>`` where ``kid`` is the
first 8 hex characters of SHA-256 over the key. Nothing here logs or puts plaintext in exceptions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from hashlib import _Hash

KEY_BYTES = 32
"""AES-256 and HMAC-SHA256 keys are 32 random bytes."""
NONCE_BYTES = 12
INDEX_HEX_CHARS = 32
DATA_KEYS_ENV = "BREACH_NOTIFY_DATA_KEYS"
INDEX_KEY_ENV = "BREACH_NOTIFY_INDEX_KEY"
DATA_KEYS_FILE = "data-keys"
INDEX_KEY_FILE = "index-key"
_VERSION = "v1"
_SHA256_BLOCK = 64
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_b2a = binascii.b2a_base64
_NONCES_PER_DRAW = 256
_no_nonces: Iterator[bytes] = iter(())
_nonces = [_no_nonces]  # one shared iterator over nonces drawn from os.urandom in blocks


def _nonce() -> bytes:
    """A fresh random 96-bit nonce: the next unused slice of one ``os.urandom`` block of 256 nonces.

    One system call per 256 encryptions instead of one each (``os.urandom`` was a quarter of an
    :meth:`FieldCipher.encrypt`). Every nonce is still 12 bytes straight from the kernel's CSPRNG, used once:
    the block's slices are handed out by a list iterator, whose ``next`` is a single C call and so never
    gives one slice to two threads; a thread finding it exhausted draws a new block. A forked child starts
    with an empty pool (``os.register_at_fork``), so parent and child never encrypt with the same nonce.
    """
    nonce = next(_nonces[0], None)
    if nonce is None:
        block = os.urandom(NONCE_BYTES * _NONCES_PER_DRAW)
        fresh = iter([block[i:i + NONCE_BYTES] for i in range(0, len(block), NONCE_BYTES)])
        _nonces[0] = fresh
        nonce = next(fresh)
    return nonce


def _forget_nonces() -> None:
    _nonces[0] = _no_nonces


os.register_at_fork(after_in_child=_forget_nonces)


class DecryptionError(Exception):
    """A token is malformed, was made with a key we do not hold, or was tampered with."""


class KeyConfigError(Exception):
    """Keys are missing, malformed (not base64 of 32 bytes) or stored with unsafe permissions."""


def key_id(key: bytes) -> str:
    """8 hex characters identifying ``key`` (SHA-256 prefix); safe to store and show."""
    return hashlib.sha256(key).hexdigest()[:8]


class FieldCipher:
    """AES-256-GCM encryption of text fields with key rotation.

    Args:
        keys: 32-byte keys, newest first. The first encrypts; every key decrypts.

    Raises:
        KeyConfigError: no keys, or a key that is not 32 bytes.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise KeyConfigError("no data encryption key")
        for key in keys:
            _check_key(key)
        self._primary = key_id(keys[0])
        self._ciphers = {key_id(key): AESGCM(key) for key in reversed(keys)}
        self._encrypt = self._ciphers[self._primary].encrypt
        self._prefix = f"{_VERSION}.{self._primary}."
        self._aad: dict[str, bytes] = {}  # context -> its UTF-8 bytes, encoded once

    @property
    def primary_key_id(self) -> str:
        """Key id of the key that encrypts."""
        return self._primary

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        """Encrypt UTF-8 text; ``context`` (e.g. ``"subject.email"``) is authenticated, not stored.

        Returns a fresh token each call (random nonce), so equal plaintexts do not compare equal;
        use a :class:`BlindIndex` for look-ups.

        Runs once per encrypted field of every imported row, hence the shortcuts: the token's prefix and
        each context's bytes are prepared once, the nonce comes from :func:`_nonce`, and base64url is
        ``binascii.b2a_base64`` with ``+/`` translated to ``-_`` (the bytes ``base64.urlsafe_b64encode``
        gives, padding included, without its Python layers).
        """
        aad = self._aad.get(context)
        if aad is None:
            aad = self._aad[context] = context.encode()
        nonce = _nonce()
        sealed = self._encrypt(nonce, plaintext.encode(), aad or None)
        return self._prefix + _b2a(nonce + sealed, newline=False).translate(_URLSAFE).decode()

    def decrypt(self, token: str, *, context: str = "") -> str:
        """Decrypt a token made by :meth:`encrypt` with the same ``context``.

        Raises:
            DecryptionError: malformed token, unknown key id, wrong context or tampered data.
        """
        kid, blob = self._split(token)
        try:
            plain = self._ciphers[kid].decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode() or None)
        except InvalidTag as exc:
            raise DecryptionError(f"token under key {kid} failed authentication") from exc
        return plain.decode()

    def needs_rotation(self, token: str) -> bool:
        """True when ``token`` was not made with the primary key."""
        return self._split(token)[0] != self._primary

    def rotate(self, token: str, *, context: str = "") -> str:
        """Re-encrypt ``token`` under the primary key; returned unchanged if already there.

        Raises:
            DecryptionError: as :meth:`decrypt`.
        """
        if not self.needs_rotation(token):
            self.decrypt(token, context=context)
            return token
        return self.encrypt(self.decrypt(token, context=context), context=context)

    def _split(self, token: str) -> tuple[str, bytes]:
        version, _, rest = token.partition(".")
        kid, _, payload = rest.partition(".")
        if version != _VERSION or not payload:
            raise DecryptionError("not a field-cipher token")
        if kid not in self._ciphers:
            raise DecryptionError(f"token made with unknown key {kid}")
        try:
            blob = base64.urlsafe_b64decode(payload)
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("token payload is not base64url") from exc
        if len(blob) < NONCE_BYTES + 16:
            raise DecryptionError("token too short")
        return kid, blob


class BlindIndex:
    """Keyed, deterministic HMAC-SHA256 digests for equality look-ups.

    Each ``purpose`` (``"email"``, ``"phone"``, ``"external_id"``...) gets its own sub-key
    ``HMAC(key, "breach-notify/blind-index/" + purpose)``, so equal values under different
    purposes never collide. Output: first 128 bits as 32 lower-case hex characters. Callers
    normalise values before hashing (see ``app.subjects.dedupe``).

    Raises:
        KeyConfigError: the key is not 32 bytes.
    """

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._key = key
        self._by_purpose: dict[str, tuple[_Hash, _Hash]] = {}

    def digest(self, purpose: str, value: str) -> str:
        """32 hex characters for ``value`` under ``purpose``; stable across runs for the same key.

        HMAC written out (RFC 2104): ``SHA256((k ^ opad) || SHA256((k ^ ipad) || value))``, starting from
        the two SHA-256 states that have absorbed the padded sub-key, kept per purpose. It runs four times
        per imported row: about 0.74 us a digest here, against 1.2 us copying an ``hmac.HMAC`` (a Python
        wrapper over the same two states) and 1.8 us with ``hmac.digest`` (an OpenSSL MAC set up per call).
        The output is the same HMAC, as ``tests/subjects/test_crypto_fast_paths.py`` checks with ``hmac.new``.
        """
        return self._mac(purpose, value).hex()[:INDEX_HEX_CHARS]

    def digest_and_prefix(self, purpose: str, value: str) -> tuple[str, int]:
        """``(digest(purpose, value), its first 64 bits as a signed integer)``: both from one HMAC, for the
        import's identifying identifiers (the integer is their indexed ``digest_key``,
        :func:`app.subjects.models.digest_key`)."""
        mac = self._mac(purpose, value)
        return mac.hex()[:INDEX_HEX_CHARS], int.from_bytes(mac[:8], "big", signed=True)

    def _mac(self, purpose: str, value: str) -> bytes:
        states = self._by_purpose.get(purpose)
        if states is None:
            states = self._by_purpose[purpose] = _hmac_states(self._key, purpose)
        inner = states[0].copy()
        inner.update(value.encode())
        outer = states[1].copy()
        outer.update(inner.digest())
        return outer.digest()


def _hmac_states(key: bytes, purpose: str) -> tuple[_Hash, _Hash]:
    """SHA-256 after the inner and the outer padded sub-key block of ``HMAC(sub_key, ...)`` for ``purpose``."""
    sub_key = hmac.digest(key, f"breach-notify/blind-index/{purpose}".encode(), "sha256")
    block = sub_key.ljust(_SHA256_BLOCK, b"\0")  # a 32-byte key is padded, never hashed (block is 64)
    return (hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block)))


@dataclass(frozen=True)
class Keys:
    """Loaded key material. ``data_keys`` newest first; ``index_key`` never rotates in place."""

    data_keys: tuple[bytes, ...]
    index_key: bytes

    def __repr__(self) -> str:
        return f"Keys(data_keys=[{', '.join(key_id(k) for k in self.data_keys)}], index_key={key_id(self.index_key)})"

    def cipher(self) -> FieldCipher:
        """A :class:`FieldCipher` over ``data_keys``."""
        return FieldCipher(self.data_keys)

    def blind_index(self) -> BlindIndex:
        """A :class:`BlindIndex` over ``index_key``."""
        return BlindIndex(self.index_key)


def generate_key() -> str:
    """A new random 32-byte key, base64-encoded (for the env variables or key files)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def load_keys(env_value: str | None, instance_path: Path, *, index_env_value: str | None = None) -> Keys:
    """Load the data keys and the blind-index key.

    Data keys: ``env_value`` (e.g. ``$BREACH_NOTIFY_DATA_KEYS``), comma-separated base64 32-byte keys,
    newest first; else ``instance_path/data-keys`` (one key per line), created with one fresh key
    and mode 0600 if absent. To rotate, put a new key first and keep the old ones listed until
    every token has been :meth:`FieldCipher.rotate`-d.

    Index key: ``index_env_value`` (e.g. ``$BREACH_NOTIFY_INDEX_KEY``), one base64 32-byte key; else
    ``instance_path/index-key``, created likewise. Changing it means recomputing every index, so
    several app servers must share it (set the env variable).

    Raises:
        KeyConfigError: a value is not base64 of 32 bytes, or a key file is readable by group/others.
        OSError: the instance folder cannot be created or written.
    """
    data = _parse_keys(env_value) if env_value and env_value.strip() else None
    if data is None:
        data = _parse_keys(_key_file(instance_path / DATA_KEYS_FILE).replace("\n", ","))
    index_text = index_env_value if index_env_value and index_env_value.strip() else None
    index = _parse_keys(index_text or _key_file(instance_path / INDEX_KEY_FILE))
    if len(index) != 1:
        raise KeyConfigError("the blind-index key must be exactly one key")
    return Keys(data, index[0])


def _parse_keys(text: str) -> tuple[bytes, ...]:
    keys = []
    for number, part in enumerate((p.strip() for p in text.split(",")), start=1):
        if not part:
            continue
        try:
            key = base64.b64decode(part, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyConfigError(f"key {number} is not valid base64") from exc
        keys.append(_check_key(key, number))
    if not keys:
        raise KeyConfigError("no key given")
    return tuple(keys)


def _check_key(key: bytes, number: int = 1) -> bytes:
    if len(key) != KEY_BYTES:
        raise KeyConfigError(f"key {number} is {len(key)} bytes; expected {KEY_BYTES}")
    return key


def _key_file(path: Path) -> str:
    """Read a key file, creating it atomically (mode 0600, one fresh key) when absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generate_key() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyConfigError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    return path.read_text(encoding="ascii")
