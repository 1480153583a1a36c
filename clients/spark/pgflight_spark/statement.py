"""Flight SQL's CommandStatementQuery, hand-encoded (pyarrow.flight has no Flight SQL layer).

Two protobuf wire-format pieces suffice: varints and length-delimited fields, inside a
`google.protobuf.Any`.
"""

from __future__ import annotations

TYPE_URL = "type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, bytes."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def command_statement_query(sql: str) -> bytes:
    """`Any { type_url, value = CommandStatementQuery { query = sql } }`."""
    return _field(1, TYPE_URL.encode()) + _field(2, _field(1, sql.encode("utf-8")))
