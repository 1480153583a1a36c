"""How to reach pgflight: address, TLS material and the bearer token, picklable so that the
driver's login travels to the executors inside each partition."""

from __future__ import annotations

import dataclasses
from typing import Iterator, Optional, Sequence

import pyarrow as pa
import pyarrow.flight as flight

#: Flight's "fetch from the server you asked" location (arrow-flight's `Location::reuse_connection`).
REUSE_CONNECTION = "arrow-flight-reuse-connection://?"


@dataclasses.dataclass(frozen=True)
class Connection:
    """pgflight's address and credentials (the token as an `authorization` header value)."""

    uri: str
    tls_root_certs: Optional[bytes] = dataclasses.field(default=None, repr=False)
    tls_cert_chain: Optional[bytes] = dataclasses.field(default=None, repr=False)
    tls_private_key: Optional[bytes] = dataclasses.field(default=None, repr=False)
    authorization: Optional[str] = dataclasses.field(default=None, repr=False)

    def client(self, uri: Optional[str] = None) -> flight.FlightClient:
        """A client of `uri` (default: the configured one) with this connection's TLS material."""
        kwargs = {}
        if self.tls_root_certs:
            kwargs["tls_root_certs"] = self.tls_root_certs
        if self.tls_cert_chain:
            kwargs["cert_chain"] = self.tls_cert_chain
            kwargs["private_key"] = self.tls_private_key
        return flight.FlightClient(uri or self.uri, **kwargs)

    def call_options(self) -> flight.FlightCallOptions:
        """Call options carrying the bearer token, when there is one."""
        if self.authorization is None:
            return flight.FlightCallOptions()
        return flight.FlightCallOptions(headers=[(b"authorization", self.authorization.encode())])

    def logged_in(self, username: str, password: str) -> "Connection":
        """The same connection with the bearer token pgflight's Handshake answers to basic
        credentials."""
        with self.client() as client:
            key, value = client.authenticate_basic_token(username, password)
        if key.lower() != b"authorization":
            raise flight.FlightUnauthenticatedError(f"pgflight answered the Handshake with header {key!r}, not a token")
        return dataclasses.replace(self, authorization=value.decode())

    def flight_info(self, descriptor: flight.FlightDescriptor) -> flight.FlightInfo:
        """GetFlightInfo: pgflight plans the read and answers schema and endpoints."""
        with self.client() as client:
            return client.get_flight_info(descriptor, self.call_options())

    def stream(self, ticket: bytes, locations: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """DoGet of one endpoint: at its locations in order (none, or Flight's "reuse"
        location, mean `uri`); the next location is tried only when one cannot be reached
        before the first batch, so no row is ever read twice."""
        targets = [self.uri if location == REUSE_CONNECTION else location for location in locations] or [self.uri]
        for attempt, target in enumerate(targets):
            client = self.client(target)
            started = False
            try:
                reader = client.do_get(flight.Ticket(ticket), self.call_options())
                for chunk in reader:
                    started = True
                    yield chunk.data
                return
            except flight.FlightUnavailableError:
                if started or attempt == len(targets) - 1:
                    raise
            finally:
                client.close()
