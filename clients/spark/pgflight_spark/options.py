"""The data source's options, read once from Spark's option map and checked.

| option | meaning |
|---|---|
| `uri` | pgflight's address, `grpc://host:8080` or `grpc+tls://host:8080` (required) |
| `path` (the argument of `load`) or `entity` | a table or view, `name` or `schema.name` |
| `sql` | a SQL statement, run through Flight SQL (instead of a relation) |
| `cursor_field`, `cursor` | incremental: rows with `cursor < cursor_field <= high water` (no `cursor`: all) |
| `partitions` | ask for this many endpoints (relations only; pgflight bounds it) |
| `username`, `password` | pgflight credentials (`auth = "password"` or `"postgres"`), exchanged once for a token |
| `token` | a bearer token instead of a user name and password |
| `tls_root_certs`, `tls_cert_chain`, `tls_private_key` | PEM files: CA to trust, client certificate and key (mutual TLS) |
| `flight_info` | a plan made by `pgflight_spark.plan` (base64), read instead of asking pgflight again |
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Mapping, Optional

import pyarrow.flight as flight

from pgflight_spark.connection import Connection
from pgflight_spark.statement import command_statement_query

#: Every option the data source knows; any other is an error rather than silently ignored.
KNOWN = frozenset(
    {
        "uri", "path", "entity", "sql", "cursor_field", "cursor", "partitions", "username",
        "password", "token", "tls_root_certs", "tls_cert_chain", "tls_private_key", "flight_info",
    }
)


class OptionError(ValueError):
    """An option is missing, unknown or does not fit with the others."""


def _pem(options: Mapping[str, str], key: str) -> Optional[bytes]:
    path = options.get(key)
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise OptionError(f"option {key}: cannot read {path}: {err.strerror}") from err


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """What to read and how to reach pgflight."""

    uri: str
    entity: Optional[str] = None
    sql: Optional[str] = None
    cursor_field: Optional[str] = None
    cursor: Optional[str] = None
    partitions: Optional[int] = None
    username: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)
    token: Optional[str] = dataclasses.field(default=None, repr=False)
    tls_root_certs: Optional[bytes] = dataclasses.field(default=None, repr=False)
    tls_cert_chain: Optional[bytes] = dataclasses.field(default=None, repr=False)
    tls_private_key: Optional[bytes] = dataclasses.field(default=None, repr=False)
    flight_info: Optional[str] = dataclasses.field(default=None, repr=False)

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> "ReadOptions":
        """Checks Spark's options (keys are case-insensitive there, lower case here)."""
        options = {key.lower(): value for key, value in options.items() if value is not None}
        unknown = sorted(set(options) - KNOWN)
        if unknown:
            raise OptionError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN))}")
        uri = options.get("uri")
        if not uri:
            raise OptionError('option "uri" is required, e.g. grpc://pgflight:8080')
        path, entity = options.get("path"), options.get("entity")
        if path and entity and path != entity:
            raise OptionError(f"load({path!r}) and option entity={entity!r} name different relations")
        entity = entity or path
        sql = options.get("sql")
        if options.get("flight_info") is None and bool(entity) == bool(sql):
            raise OptionError('name a relation (load("schema.table") or option "entity") or option "sql", one of them')
        if sql and any(options.get(key) for key in ("cursor_field", "cursor", "partitions")):
            raise OptionError('options cursor_field, cursor and partitions apply to a relation, not to "sql" '
                              "(use pgflight_incremental(…) in the statement)")
        if options.get("cursor") and not options.get("cursor_field"):
            raise OptionError('option "cursor" needs "cursor_field"')
        partitions = options.get("partitions")
        if partitions is not None:
            try:
                partitions = int(partitions)
            except ValueError:
                partitions = 0
            if partitions < 1:
                raise OptionError(f"option partitions: {options['partitions']!r} is not a whole number of at least 1")
        if options.get("token") and (options.get("username") or options.get("password")):
            raise OptionError('give either "token" or "username"/"password", not both')
        if bool(options.get("username")) != bool(options.get("password")):
            raise OptionError('options "username" and "password" go together')
        if bool(options.get("tls_cert_chain")) != bool(options.get("tls_private_key")):
            raise OptionError('options "tls_cert_chain" and "tls_private_key" go together (mutual TLS)')
        return cls(
            uri=uri,
            entity=entity,
            sql=sql,
            cursor_field=options.get("cursor_field"),
            cursor=options.get("cursor"),
            partitions=partitions,
            username=options.get("username"),
            password=options.get("password"),
            token=options.get("token"),
            tls_root_certs=_pem(options, "tls_root_certs"),
            tls_cert_chain=_pem(options, "tls_cert_chain"),
            tls_private_key=_pem(options, "tls_private_key"),
            flight_info=options.get("flight_info"),
        )

    def descriptor(self) -> flight.FlightDescriptor:
        """The command pgflight plans: the seed's JSON request for a relation, Flight SQL's
        CommandStatementQuery for `sql`."""
        if self.sql:
            return flight.FlightDescriptor.for_command(command_statement_query(self.sql))
        if self.cursor_field:
            mode = {"incremental": {"entity": self.entity, "cursorField": self.cursor_field, "cursor": self.cursor}}
        else:
            mode = {"fullTable": {"entity": self.entity}}
        request: dict = {"mode": mode}
        if self.partitions is not None:
            request["partitions"] = self.partitions
        return flight.FlightDescriptor.for_command(json.dumps(request))

    def connect(self) -> Connection:
        """A connection to `uri`, logged in when credentials are given (a Handshake on the
        driver: executors reuse its bearer token)."""
        connection = Connection(
            uri=self.uri,
            tls_root_certs=self.tls_root_certs,
            tls_cert_chain=self.tls_cert_chain,
            tls_private_key=self.tls_private_key,
            authorization=f"Bearer {self.token}" if self.token else None,
        )
        if self.username:
            return connection.logged_in(self.username, self.password or "")
        return connection
