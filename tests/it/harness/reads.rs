//! Reading through Flight in tests: the gRPC status of a client error, every endpoint's batches
//! (on one client, or each on a connection of its own at once), and reads answering a cursor.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::{FlightClient, FlightDescriptor, FlightInfo, Ticket};
use futures::TryStreamExt;
use tonic::transport::Channel;

use super::{TestServer, flight_client};

/// The gRPC status a Flight client error carries (the test fails when it carries none).
pub fn grpc_status(err: FlightError) -> tonic::Status {
    match err {
        FlightError::Tonic(status) => *status,
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

/// The status DoGet of `ticket` fails with, when asking or when streaming.
pub async fn do_get_status(client: &mut FlightClient, ticket: Ticket) -> tonic::Status {
    let err = match client.do_get(ticket).await {
        Err(err) => err,
        Ok(stream) => stream.try_collect::<Vec<_>>().await.unwrap_err(),
    };
    grpc_status(err)
}

/// A client whose DoGet answers a ticket's batches: Flight's own and Flight SQL's.
pub trait DoGet {
    /// Every batch of `ticket`.
    async fn batches(&mut self, ticket: Ticket) -> Vec<RecordBatch>;
}

impl DoGet for FlightClient {
    async fn batches(&mut self, ticket: Ticket) -> Vec<RecordBatch> {
        let stream = self.do_get(ticket).await.unwrap();
        stream.try_collect().await.unwrap()
    }
}

impl DoGet for FlightSqlServiceClient<Channel> {
    async fn batches(&mut self, ticket: Ticket) -> Vec<RecordBatch> {
        let stream = self.do_get(ticket).await.unwrap();
        stream.try_collect().await.unwrap()
    }
}

/// Every endpoint's batches of `info`, read one after another on `client`.
pub async fn read_all(client: &mut impl DoGet, info: &FlightInfo) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for endpoint in &info.endpoint {
        batches.extend(client.batches(endpoint.ticket.clone().unwrap()).await);
    }
    batches
}

/// Every endpoint of `info` read at once, each on its own connection; the batches in endpoint
/// order.
pub async fn fetch_all(server: &TestServer, info: &FlightInfo) -> Vec<RecordBatch> {
    let mut tasks = Vec::new();
    for endpoint in &info.endpoint {
        let ticket = endpoint.ticket.clone().unwrap();
        let mut client = flight_client(server).await;
        tasks.push(tokio::spawn(async move { client.batches(ticket).await }));
    }
    let mut batches = Vec::new();
    for task in tasks {
        batches.extend(task.await.unwrap());
    }
    batches
}

/// The first column's values (an int8 id) of every row of `batches`.
pub fn ids_of(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

/// Fetches every endpoint of `info` at once, each on its own connection; the first column's
/// values (an int8 id) of every row read.
pub async fn fetch_all_ids(server: &TestServer, info: &FlightInfo) -> Vec<i64> {
    ids_of(&fetch_all(server, info).await)
}

/// A read that answers a cursor (incremental extraction, changes): every endpoint's batches
/// and the cursor JSON of `app_metadata`, checked to be each stream schema's
/// `pgflight.cursor`.
pub struct CursorRead {
    /// The rows read.
    pub batches: Vec<RecordBatch>,
    /// The FlightInfo's `app_metadata`, parsed.
    pub metadata: serde_json::Value,
    /// How many endpoints the FlightInfo had.
    pub endpoints: usize,
}

/// GetFlightInfo of `descriptor` and DoGet of each of its endpoints on `client`.
pub async fn cursor_read(
    client: &mut FlightClient,
    descriptor: FlightDescriptor,
) -> Result<CursorRead, tonic::Status> {
    let info = client
        .get_flight_info(descriptor)
        .await
        .map_err(grpc_status)?;
    let metadata: serde_json::Value = serde_json::from_slice(&info.app_metadata).unwrap();
    let mut batches = Vec::new();
    for endpoint in &info.endpoint {
        let mut stream = client
            .do_get(endpoint.ticket.clone().unwrap())
            .await
            .map_err(grpc_status)?;
        while let Some(batch) = stream.try_next().await.map_err(grpc_status)? {
            batches.push(batch);
        }
        let schema = stream.schema().cloned().unwrap();
        let in_schema: serde_json::Value =
            serde_json::from_str(&schema.metadata()["pgflight.cursor"]).unwrap();
        assert_eq!(in_schema, metadata);
    }
    let endpoints = info.endpoint.len();
    Ok(CursorRead {
        batches,
        metadata,
        endpoints,
    })
}
