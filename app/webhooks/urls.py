"""Subscriber URL checks, so the service cannot be used to reach internal hosts (SSRF).

A URL must be ``https`` (``http`` only for hosts listed in ``WEBHOOK_HTTP_HOSTS``), carry no credentials, and
every address its host resolves to must be public: loopback, private (RFC 1918, ULA), link-local, shared
(CGNAT), multicast, unspecified and reserved addresses are refused unless ``WEBHOOK_ALLOW_PRIVATE`` is on
(testing only). The check runs when a subscription is saved and again before every send, and the request
then connects to the checked address itself, so a DNS answer that changes in between cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from app.errors import InvalidInput

Resolver = Callable[..., list[tuple[Any, ...]]]


@dataclass(frozen=True)
class UrlPolicy:
    """``allow_private``: accept non-public addresses (tests, labs); ``http_hosts``: hosts allowed over plain
    http (lower-case names or addresses)."""

    allow_private: bool = False
    http_hosts: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the public addresses its host resolved to (as strings)."""

    parts: SplitResult
    host: str
    port: int
    addresses: tuple[str, ...]


def _refuse(reason: str) -> InvalidInput:
    return InvalidInput(f"url: {reason}", details=[{"path": "url", "reason": reason}])


def is_public(address: str) -> bool:
    """True when ``address`` (IPv4 or IPv6 text) is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address)
                                         and ip in ipaddress.ip_network("100.64.0.0/10")))


def parse(url: str, *, http_hosts: Collection[str]) -> tuple[SplitResult, str, int]:
    """Split and check the form of ``url``; returns (parts, host, port). Raises ``InvalidInput`` on ``url``."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise _refuse("must be an absolute https:// URL")
    if parts.scheme == "http" and host not in http_hosts:
        raise _refuse(f"plain http is allowed only for the hosts in BREACH_NOTIFY_WEBHOOK_HTTP_HOSTS, not {host}")
    if parts.username or parts.password:
        raise _refuse("must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise _refuse(f"bad port: {exc}") from None
    return parts, host, port


def check(url: str, *, policy: UrlPolicy, resolve: Resolver = socket.getaddrinfo) -> Target:
    """Check ``url`` (form, then every resolved address); returns the ``Target``. Raises ``InvalidInput``
    naming ``url`` with the reason (e.g. ``resolves to 10.0.0.5, a private address``)."""
    parts, host, port = parse(url, http_hosts=policy.http_hosts)
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _refuse(f"host {host} does not resolve ({exc})") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise _refuse(f"host {host} does not resolve")
    if not policy.allow_private:
        for address in addresses:
            if not is_public(address):
                raise _refuse(f"resolves to {address}, a loopback, private, link-local or reserved address "
                              "(allowed only with BREACH_NOTIFY_WEBHOOK_ALLOW_PRIVATE)")
    return Target(parts, host, port, addresses)
