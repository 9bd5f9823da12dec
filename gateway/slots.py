"""Connection slots of the ingress: a total, a share per client address, and a reserve that only sessions which
have completed STARTTLS may use (pre-TLS sessions can do nothing but wait for it)."""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field

from . import replies
from .replies import Reply


def client_of(peer: object) -> str:
    """The client a connection counts against: its IPv4 address, or its IPv6 /64 (one site's prefix)."""
    host = peer[0] if isinstance(peer, tuple) and peer else str(peer)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return str(host)
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


@dataclass
class Slots:
    """Sessions open now. ``take`` counts a new one in and says why it must be refused, if it must; every
    session taken is given back by ``release``, refused or not."""

    max_connections: int
    per_client: int
    tls_reserved: int  # at most half of max_connections is reserved
    active: int = 0
    pre_tls: int = 0  # sessions still to do STARTTLS, where it is required
    clients: Counter = field(default_factory=Counter)

    def take(self, client: str, *, pre_tls: bool) -> Reply | None:
        self.active += 1
        self.clients[client] += 1
        self.pre_tls += pre_tls
        if self.active > self.max_connections:
            return replies.TOO_MANY_CONNECTIONS
        if self.clients[client] > self.per_client:
            return replies.TOO_MANY_FROM_ADDRESS.format(limit=self.per_client)
        if pre_tls and self.pre_tls > self.max_connections - min(self.tls_reserved, self.max_connections // 2):
            return replies.TOO_MANY_CONNECTIONS
        return None

    def tls_done(self) -> None:
        """A pre-TLS session completed STARTTLS: it may now use the reserve."""
        self.pre_tls -= 1

    def release(self, client: str, *, pre_tls: bool) -> None:
        self.active -= 1
        self.pre_tls -= pre_tls
        self.clients[client] -= 1
        if self.clients[client] <= 0:
            del self.clients[client]
