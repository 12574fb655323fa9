"""The sandbox's HTTP peer picks another port when the one it chose was taken before it could listen."""

import socket
import urllib.request

import pytest

from app.sandbox import common
from app.sandbox.common import HttpPeer, free_port


def test_a_chosen_port_taken_meanwhile_is_chosen_again(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken, free_port()])
        monkeypatch.setattr(common, "free_port", lambda host="127.0.0.1": next(ports))
        peer = HttpPeer(lambda environ, start: (start("200 OK", []), [b"ok"])[1])
        assert peer.port == taken
        peer.start()
        try:
            assert peer.port != taken
            assert urllib.request.urlopen(peer.url, timeout=5).read() == b"ok"
        finally:
            peer.stop()
        with pytest.raises(SystemExit):  # a port the caller gave is theirs to fix: no second choice
            HttpPeer(lambda environ, start: [], port=taken).start()
