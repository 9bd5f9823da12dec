"""The gateway: everything that speaks SMTP — ingress server and outbound client."""

from .errors import GatewayError, RelayError, RelayPermanent, RelayTemporary
from .outbound import Relay
from .limits import Limits
from .replies import Reply
from .server import GatewaySMTP, IngressHandler, Submission, server_tls_context, start_server

__all__ = [
    "GatewayError",
    "GatewaySMTP",
    "IngressHandler",
    "Limits",
    "Relay",
    "RelayError",
    "RelayPermanent",
    "RelayTemporary",
    "Reply",
    "Submission",
    "server_tls_context",
    "start_server",
]
