"""Where print-and-post batches go: a folder, or a print vendor's SFTP drop (paramiko).

A drop takes the batch's files in order (merged PDF first, manifest CSV last: vendors start a job when the
manifest appears) and writes each one under a temporary ``.part`` name, renaming it when complete, so the
vendor never picks up half a file. An existing file of the same name is never overwritten.

SFTP checks the server's host key against a known_hosts file (``RejectPolicy``: an unknown or changed key
stops the upload) and signs in with a private key file. ``DropError`` reports any failure without contact
data; the batch is then not handed over and its letters wait for the next batch.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import paramiko


class DropError(Exception):
    """The batch could not be handed over (``message`` says why; never contact data)."""


class Drop(Protocol):
    """A place batches are handed over to. ``describe()`` names it without secrets."""

    def describe(self) -> str:
        """``folder:/srv/letters`` or ``sftp://user@host:22/drop``."""
        ...

    def put(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Write ``(name, content)`` files in order; ``DropError`` on any failure or an existing name."""
        ...


@dataclass(frozen=True)
class FolderDrop:
    """A local (or mounted) folder; created when missing."""

    path: Path

    def describe(self) -> str:
        """``folder:<absolute path>``."""
        return f"folder:{self.path.resolve()}"

    def put(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Write each file as ``<name>.part``, then rename it (see the module docstring)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            for name, content in files:
                final = self.path / name
                if final.exists():
                    raise DropError(f"{self.describe()}: {name} already exists")
                part = self.path / f"{name}.part"
                part.write_bytes(content)
                os.replace(part, final)
        except OSError as exc:
            raise DropError(f"{self.describe()}: {type(exc).__name__}: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class SftpDrop:
    """A print vendor's SFTP drop: ``host``, ``port``, ``username``, remote ``folder``, the private ``key_file``
    and the ``known_hosts`` file holding the server's host key. ``timeout`` in seconds."""

    host: str
    port: int
    username: str
    folder: str
    key_file: str | None
    known_hosts: str | None
    timeout: float = 30.0

    def describe(self) -> str:
        """``sftp://user@host:port/folder``."""
        return f"sftp://{self.username}@{self.host}:{self.port}{self.folder}"

    def _client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.load_host_keys(self.known_hosts or os.path.expanduser("~/.ssh/known_hosts"))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(self.host, port=self.port, username=self.username, key_filename=self.key_file,
                       timeout=self.timeout, banner_timeout=self.timeout, auth_timeout=self.timeout,
                       allow_agent=False, look_for_keys=False)
        return client

    def put(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Upload each file as ``<name>.part`` and rename it (see the module docstring)."""
        try:
            with self._client() as client, client.open_sftp() as sftp:
                sftp.chdir(self.folder)
                present = set(sftp.listdir("."))
                for name, content in files:
                    if name in present:
                        raise DropError(f"{self.describe()}: {name} already exists")
                    sftp.putfo(io.BytesIO(content), f"{name}.part", file_size=len(content), confirm=True)
                    sftp.posix_rename(f"{name}.part", name)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise DropError(f"{self.describe()}: {type(exc).__name__}: {exc}") from exc


def drop_from_config(config: Mapping[str, Any]) -> Drop | None:
    """The drop of ``LETTER_DROP`` (a folder, or ``sftp://user@host[:port]/folder``), None when unset.

    ``ValueError`` names the setting for an SFTP URL without user or host."""
    text = str(config.get("LETTER_DROP") or "").strip()
    if not text:
        return None
    if not text.startswith("sftp://"):
        return FolderDrop(Path(text))
    url = urlsplit(text)
    if not url.hostname or not url.username:
        raise ValueError("BREACH_NOTIFY_LETTER_DROP: an SFTP drop needs sftp://user@host[:port]/folder")
    return SftpDrop(url.hostname, url.port or 22, unquote(url.username), unquote(url.path) or "/",
                    config.get("LETTER_SFTP_KEY") or None, config.get("LETTER_SFTP_KNOWN_HOSTS") or None)
