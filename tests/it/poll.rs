//! PollFlightInfo: statements and extraction requests are planned at once, so the first poll
//! is complete — the same FlightInfo GetFlightInfo answers, progress 1.0, nothing to poll again
//! — and its tickets read the rows; a request GetFlightInfo refuses, poll refuses the same way.

use arrow::array::RecordBatch;
use arrow_flight::FlightDescriptor;
use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt};
use prost::Message;
use tonic::Code;

use crate::harness::{TestServer, cluster, fetch_all, flight_client, full_table};

fn statement(sql: &str) -> FlightDescriptor {
    let command = CommandStatementQuery {
        query: sql.to_string(),
        transaction_id: None,
    };
    FlightDescriptor::new_cmd(command.as_any().encode_to_vec())
}

async fn rows_of(server: &TestServer, info: &arrow_flight::FlightInfo) -> usize {
    let batches = fetch_all(server, info).await;
    batches.iter().map(RecordBatch::num_rows).sum()
}

#[tokio::test]
async fn a_poll_is_complete_at_once_for_statements_and_extraction() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "poll",
            "CREATE TABLE items (id bigint PRIMARY KEY, name text);
             INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 250) g;",
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;

    for (descriptor, rows) in [
        (full_table("items"), 250),
        (
            FlightDescriptor::new_path(vec!["public".into(), "items".into()]),
            250,
        ),
        (statement("SELECT id, name FROM items WHERE id <= 10"), 10),
        (statement("SELECT count(*) FROM items"), 1),
    ] {
        let poll = client.poll_flight_info(descriptor.clone()).await.unwrap();
        assert_eq!(poll.progress, Some(1.0));
        assert!(
            poll.flight_descriptor.is_none(),
            "complete: nothing to poll again"
        );
        let info = poll.info.expect("the FlightInfo");
        assert_eq!(info.flight_descriptor.as_ref(), Some(&descriptor));
        let direct = client.get_flight_info(descriptor).await.unwrap();
        assert_eq!(info.schema, direct.schema);
        assert_eq!(info.endpoint.len(), direct.endpoint.len());
        assert_eq!(rows_of(&server, &info).await, rows);
    }

    let missing = client
        .poll_flight_info(full_table("nope"))
        .await
        .unwrap_err();
    let arrow_flight::error::FlightError::Tonic(status) = missing else {
        panic!("not a gRPC status: {missing}");
    };
    assert_eq!(status.code(), Code::NotFound);
    server.stop().await;
}
