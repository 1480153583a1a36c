"""Planning on the driver: GetFlightInfo once, keeping the answer (schema, endpoints and, for
incremental reads, the new cursor) so that the rows Spark reads and the cursor stored for the
next run come from the same plan."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Mapping, Optional

import pyarrow as pa
import pyarrow.flight as flight

from pgflight_spark.options import ReadOptions


@dataclasses.dataclass(frozen=True)
class Planned:
    """pgflight's answer to one GetFlightInfo."""

    info: flight.FlightInfo
    options: dict

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema every endpoint streams."""
        return self.info.schema

    @property
    def cursor(self) -> Optional[str]:
        """An incremental read's new cursor (`app_metadata`'s `cursor`), else None."""
        metadata = self.info.app_metadata
        if not metadata:
            return None
        try:
            return json.loads(metadata).get("cursor")
        except (ValueError, AttributeError):
            return None

    def spark_options(self) -> dict:
        """The options to give `spark.read.format("pgflight")` to read exactly this plan."""
        encoded = base64.b64encode(self.info.serialize()).decode()
        options = {key: value for key, value in self.options.items() if value is not None}
        return {**options, "flight_info": encoded}


def plan(options: Mapping[str, str]) -> Planned:
    """Asks pgflight to plan the read the options describe (the data source's own options)."""
    read = ReadOptions.parse(options)
    info = read.connect().flight_info(read.descriptor())
    return Planned(info=info, options=dict(options))


def decode(flight_info: str) -> flight.FlightInfo:
    """The FlightInfo a `Planned.spark_options()` carries."""
    return flight.FlightInfo.deserialize(base64.b64decode(flight_info))
