"""Hand-encoded Flight SQL commands for pyarrow.flight (which has no Flight SQL layer).

Only the few protobuf wire-format pieces the tests need: varints, length-delimited fields and
`google.protobuf.Any`.
"""

from __future__ import annotations

from typing import Iterable

import pyarrow as pa
import pyarrow.flight as flight

TYPE_URL_PREFIX = "type.googleapis.com/arrow.flight.protocol.sql."

# SqlInfo ids (FlightSql.proto).
FLIGHT_SQL_SERVER_NAME = 0
FLIGHT_SQL_SERVER_VERSION = 1
FLIGHT_SQL_SERVER_ARROW_VERSION = 2
FLIGHT_SQL_SERVER_READ_ONLY = 3


def varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("negative varints are not needed here")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fields(buf: bytes) -> list[tuple[int, object]]:
    """A protobuf message's (field, value) pairs: varints as int, fixed64 as bytes, others bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            length, i = read_varint(buf, i)
            value, i = buf[i : i + length], i + length
        else:
            raise ValueError(f"wire type {wire} not expected")
        out.append((field, value))
    return out


def read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def length_delimited(field: int, payload: bytes) -> bytes:
    """A wire-type-2 field: tag, length, bytes."""
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def any_message(type_name: str, message: bytes) -> bytes:
    """`google.protobuf.Any { type_url = 1; value = 2; }` around a Flight SQL command."""
    return length_delimited(1, (TYPE_URL_PREFIX + type_name).encode()) + length_delimited(2, message)


def command_get_sql_info(info: Iterable[int] = ()) -> bytes:
    """`CommandGetSqlInfo { repeated uint32 info = 1; }` (packed), wrapped in Any."""
    ids = b"".join(varint(i) for i in info)
    body = length_delimited(1, ids) if ids else b""
    return any_message("CommandGetSqlInfo", body)


def fetch(client: flight.FlightClient, command: bytes) -> tuple[flight.FlightInfo, pa.Table]:
    """GetFlightInfo for a command descriptor, then DoGet every endpoint's ticket."""
    info = client.get_flight_info(flight.FlightDescriptor.for_command(command))
    tables = [client.do_get(endpoint.ticket).read_all() for endpoint in info.endpoints]
    table = pa.concat_tables(tables) if tables else info.schema.empty_table()
    return info, table


def sql_info(client: flight.FlightClient, info: Iterable[int] = ()) -> dict[int, object]:
    """GetSqlInfo as {info_name: python value}."""
    _, table = fetch(client, command_get_sql_info(info))
    names = table.column("info_name").to_pylist()
    values = table.column("value").to_pylist()
    return dict(zip(names, values))
