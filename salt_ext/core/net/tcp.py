"""The TCP transport of the delivery core (carbon plaintext and pickle), as
:mod:`~salt_ext.core.net.http` is the HTTP one. Both follow
:class:`~salt_ext.core.delivery.delivery.Transport`.
"""

import socket
from collections.abc import Callable

from salt_ext.core.errors import DeliveryError
from salt_ext.core.net.resolve import create_connection, error_reason


class TcpTransport:
    """One TCP connection per payload, one ``sendall``; carbon plaintext and pickle use it."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 5.0,
        connect: Callable[..., socket.socket] = create_connection,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._connect = connect
        self.label = f"{host}:{port}"

    def send(self, payload: bytes) -> None:
        try:
            sock = self._connect((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise DeliveryError(f"cannot connect to {self.label}: {error_reason(exc)}") from None
        try:
            sock.settimeout(self.timeout)
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise DeliveryError(f"sending to {self.label} failed: {error_reason(exc)}") from None
        finally:
            sock.close()
