//! The Python snippet `pgflight demo` prints: what a newcomer pastes to see pgflight work,
//! using only operations this version serves (ListFlights, full extraction by JSON request
//! and by path, ADBC's GetInfo, and SQL through ADBC: a join with an aggregate and a query with
//! a `?` parameter).

/// The first line of the snippet as printed (tests find the snippet by it).
pub const BEGIN: &str = "# ---- pgflight demo: Python snippet ----";
/// The last line of the snippet as printed.
pub const END: &str = "# ---- end of snippet ----";

/// The snippet for a server at `uri` (`grpc://host:port`), between [`BEGIN`] and [`END`].
pub fn python(uri: &str) -> String {
    format!(
        r#"{BEGIN}
import json

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight

URI = "{uri}"
client = flight.FlightClient(URI)

# Discovery: every table and view the role can read, with its Arrow schema.
for listed in client.list_flights():
    print(listed.descriptor.path, listed.schema.names)

# A full extraction with the seed connector's JSON request.
request = {{"mode": {{"fullTable": {{"entity": "orders"}}}}}}
info = client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(request)))
orders = client.do_get(info.endpoints[0].ticket).read_all()
print(orders.num_rows, "orders:", orders.schema.names)

# The same by path ["schema", "relation"]: here the view.
descriptor = flight.FlightDescriptor.for_path("public", "customer_totals")
totals = client.do_get(client.get_flight_info(descriptor).endpoints[0].ticket).read_all()
print(totals.num_rows, "customers; first:", totals.slice(0, 1).to_pylist())

# ADBC Flight SQL: who answers, then SQL: a join with an aggregate, and a `?` parameter.
with flightsql.connect(URI, autocommit=True) as conn:
    about = conn.adbc_get_info()
    print(about["vendor_name"], about.get("vendor_version"))
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.country, count(*) AS orders, sum(o.amount)::numeric(12, 2) AS revenue"
            " FROM orders o JOIN customers c ON c.id = o.customer_id"
            " GROUP BY c.country ORDER BY revenue DESC"
        )
        by_country = cur.fetch_arrow_table()
        print(by_country.num_rows, "countries; top:", by_country.slice(0, 1).to_pylist())
        cur.execute("SELECT id, status, amount FROM orders WHERE customer_id = ? ORDER BY id", (42,))
        mine = cur.fetch_arrow_table()
        print(mine.num_rows, "orders of customer 42:", mine.column("id").to_pylist())
{END}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_names_the_server_and_is_delimited() {
        let text = python("grpc://127.0.0.1:9999");
        assert!(text.starts_with(BEGIN));
        assert!(text.trim_end().ends_with(END));
        assert!(text.contains(r#"URI = "grpc://127.0.0.1:9999""#));
        assert!(text.contains(r#"{"mode": {"fullTable": {"entity": "orders"}}}"#));
        assert!(text.contains("WHERE customer_id = ?"));
    }
}
