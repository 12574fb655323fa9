"""Field encryption round trip, rotation, tamper detection; blind index; key loading."""

import base64
import stat
from pathlib import Path

import pytest

from app.crypto import (
    BlindIndex,
    DecryptionError,
    FieldCipher,
    KeyConfigError,
    generate_key,
    key_id,
    load_keys,
)

OLD, NEW = b"o" * 32, b"n" * 32


def test_round_trip_is_randomised_and_authenticated() -> None:
    cipher = FieldCipher([NEW])
    token = cipher.encrypt("ann.lee@mail.de", context="subject.email")
    assert token.startswith(f"v1.{key_id(NEW)}.")
    assert "ann" not in token
    assert cipher.encrypt("ann.lee@mail.de", context="subject.email") != token
    assert cipher.decrypt(token, context="subject.email") == "ann.lee@mail.de"
    assert cipher.decrypt(cipher.encrypt("Zoë Ærø")) == "Zoë Ærø"


def test_rotation_old_keys_still_decrypt_new_key_encrypts() -> None:
    old_token = FieldCipher([OLD]).encrypt("+4915112345678")
    rotated_cipher = FieldCipher([NEW, OLD])
    assert rotated_cipher.decrypt(old_token) == "+4915112345678"
    assert rotated_cipher.needs_rotation(old_token)
    new_token = rotated_cipher.rotate(old_token)
    assert not rotated_cipher.needs_rotation(new_token)
    assert new_token.split(".")[1] == key_id(NEW)
    assert rotated_cipher.rotate(new_token) == new_token
    assert FieldCipher([NEW]).decrypt(new_token) == "+4915112345678"
    with pytest.raises(DecryptionError, match="unknown key"):
        FieldCipher([NEW]).decrypt(old_token)


def test_tampering_and_wrong_context_are_detected() -> None:
    cipher = FieldCipher([NEW])
    token = cipher.encrypt("1 Main St", context="subject.address")
    prefix, payload = token.rsplit(".", 1)
    blob = bytearray(base64.urlsafe_b64decode(payload))
    blob[-1] ^= 1
    tampered = f"{prefix}.{base64.urlsafe_b64encode(bytes(blob)).decode()}"
    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.decrypt(tampered, context="subject.address")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, context="subject.email")
    for garbage in ("", "v2.x.y", f"v1.{key_id(NEW)}.!!!", f"v1.{key_id(NEW)}.AAAA"):
        with pytest.raises(DecryptionError):
            cipher.decrypt(garbage)


def test_blind_index_is_stable_keyed_and_purpose_separated() -> None:
    index = BlindIndex(b"i" * 32)
    digest = index.digest("email", "ann@mail.de")
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert BlindIndex(b"i" * 32).digest("email", "ann@mail.de") == digest
    assert index.digest("email", "ann@mail.de") == digest
    assert index.digest("email", "bob@mail.de") != digest
    assert index.digest("phone", "ann@mail.de") != digest
    assert BlindIndex(b"j" * 32).digest("email", "ann@mail.de") != digest


def test_bad_key_sizes_are_refused() -> None:
    with pytest.raises(KeyConfigError, match="expected 32"):
        FieldCipher([b"short"])
    with pytest.raises(KeyConfigError):
        FieldCipher([])
    with pytest.raises(KeyConfigError):
        BlindIndex(b"x" * 16)


def test_load_keys_from_env_values(tmp_path: Path) -> None:
    env = ",".join(base64.b64encode(k).decode() for k in (NEW, OLD))
    keys = load_keys(env, tmp_path / "instance", index_env_value=base64.b64encode(b"i" * 32).decode())
    assert keys.data_keys == (NEW, OLD) and keys.index_key == b"i" * 32
    assert not (tmp_path / "instance").exists()
    assert "n" * 8 not in repr(keys)
    with pytest.raises(KeyConfigError, match="not valid base64"):
        load_keys("not base64!", tmp_path)
    with pytest.raises(KeyConfigError, match="key 2 is 5 bytes"):
        load_keys(f"{generate_key()},{base64.b64encode(b'12345').decode()}", tmp_path)


def test_load_keys_creates_instance_key_files_once_with_0600(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    first = load_keys(None, instance)
    for name in ("data-keys", "index-key"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600
    second = load_keys("", instance)
    assert first == second
    assert first.data_keys[0] != first.index_key
    cipher = second.cipher()
    assert first.cipher().decrypt(cipher.encrypt("x")) == "x"


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_keys(None, tmp_path)
    (tmp_path / "data-keys").chmod(0o644)
    with pytest.raises(KeyConfigError, match="chmod 600"):
        load_keys(None, tmp_path)
