"""Connection slots of the ingress: a total, a share per client, and a reserve that only sessions which have
completed STARTTLS may use. A session before STARTTLS can only wait for it: when their share is full, the one
that has waited longest makes room for the newcomer (idle plaintext connections cannot shut partners out)."""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from . import replies
from .replies import Reply


class Waiting(Protocol):
    def evict(self) -> None:
        """Close this session before STARTTLS, to make room."""


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
    clients: Counter = field(default_factory=Counter)
    waiting: dict[Waiting, None] = field(default_factory=dict)  # sessions before a required STARTTLS, oldest first

    @property
    def pre_tls_share(self) -> int:
        return self.max_connections - min(self.tls_reserved, self.max_connections // 2)

    def take(self, client: str, session: Waiting | None) -> Reply | None:
        """Count a new session in (*session* when it must STARTTLS first, else None)."""
        self.active += 1
        self.clients[client] += 1
        if self.clients[client] > self.per_client:
            return replies.TOO_MANY_FROM_ADDRESS.format(limit=self.per_client)
        over = self.active > self.max_connections
        if session is not None:
            self.waiting[session] = None
            if (over or len(self.waiting) > self.pre_tls_share) and len(self.waiting) > 1:
                oldest = next(iter(self.waiting))
                del self.waiting[oldest]
                oldest.evict()  # its slot is the newcomer's (counted out when it is gone)
                over = False
        return replies.TOO_MANY_CONNECTIONS if over else None

    def tls_done(self, session: Waiting) -> None:
        """A session completed STARTTLS: it may now use the reserve."""
        self.waiting.pop(session, None)

    def release(self, client: str, session: Waiting) -> None:
        self.active -= 1
        self.waiting.pop(session, None)
        self.clients[client] -= 1
        if self.clients[client] <= 0:
            del self.clients[client]
