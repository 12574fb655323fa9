"""A print vendor's SFTP drop on loopback (asyncssh's SSH server and SFTP server, chrooted to a folder), for
rehearsals and tests of letter batches.

``start()`` makes a fresh Ed25519 host key and client key, writes the client's private key and a known_hosts
line for the server into ``keys_dir``, and listens; ``settings()`` gives the ``LETTER_*`` config that points
the app at it. Only the generated client key may sign in. Files land in ``root``.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path
from typing import Any

import asyncssh

from app.sandbox.common import LOOPBACK, free_port, require_loopback


class SftpPeer:
    """The SFTP drop (see the module docstring): ``root`` receives the files; ``username`` signs in."""

    def __init__(self, root: Path, *, host: str = LOOPBACK, port: int = 0, username: str = "printer") -> None:
        require_loopback(host)
        self.root, self.host, self.username = Path(root), host, username
        self.port = port or free_port(host)
        self.keys_dir = Path(tempfile.mkdtemp(prefix="sftp-peer-keys-"))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None

    @property
    def key_file(self) -> Path:
        """The client's private key (OpenSSH format)."""
        return self.keys_dir / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        """A known_hosts file with the server's host key."""
        return self.keys_dir / "known_hosts"

    def settings(self, folder: str = "/") -> dict[str, str]:
        """The ``LETTER_DROP``, ``LETTER_SFTP_KEY`` and ``LETTER_SFTP_KNOWN_HOSTS`` config for this peer."""
        return {"LETTER_DROP": f"sftp://{self.username}@{self.host}:{self.port}{folder}",
                "LETTER_SFTP_KEY": str(self.key_file), "LETTER_SFTP_KNOWN_HOSTS": str(self.known_hosts)}

    def _keys(self) -> tuple[asyncssh.SSHKey, asyncssh.SSHKey]:
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key.write_private_key(str(self.key_file))
        self.key_file.chmod(0o600)
        public = host_key.export_public_key().decode().strip()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {public}\n")
        return host_key, client_key

    def start(self) -> None:
        """Listen in a background thread; returns once the server accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        host_key, client_key = self._keys()
        authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def listen() -> None:
            self._server = await asyncssh.listen(
                self.host, self.port, server_host_keys=[host_key], authorized_client_keys=authorized,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()), allow_scp=False)
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(listen())
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"sandbox-sftp-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the SFTP peer did not start")

    def stop(self) -> None:
        """Close the server and stop its thread (idempotent)."""
        if self._loop is None:
            return
        loop, server = self._loop, self._server

        async def close() -> None:
            if server is not None:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop, self._thread, self._server = None, None, None

    def __enter__(self) -> SftpPeer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
