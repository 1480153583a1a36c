//! Sessions, deadlines and compression over the raw Flight service: the session travels in a
//! sealed cookie any instance sharing `ticket_secret` reads; a request's `grpc-timeout`
//! becomes its statement timeout; `x-pgflight-compression` compresses the IPC bodies.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt};
use arrow_flight::{Action, FlightData, FlightDescriptor, FlightInfo, Ticket};
use futures::TryStreamExt;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::{TestServer, channel, cluster};

/// `SessionOptionValue` with a string (the client's view of FlightSql.proto).
#[derive(Clone, PartialEq, Message)]
struct OptionValue {
    #[prost(string, optional, tag = "1")]
    string: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct SetRequest {
    #[prost(map = "string, message", tag = "1")]
    options: HashMap<String, OptionValue>,
}

#[derive(Clone, PartialEq, Message)]
struct SetResult {
    #[prost(map = "string, message", tag = "1")]
    errors: HashMap<String, SetError>,
}

#[derive(Clone, PartialEq, Message)]
struct SetError {
    #[prost(int32, tag = "1")]
    value: i32,
}

const LONG_QUERY: &str =
    "SELECT count(*) FROM (SELECT generate_series(1::bigint, 1000000000000::bigint)) s";

async fn raw(server: &TestServer) -> FlightServiceClient<Channel> {
    FlightServiceClient::new(channel(server).await)
}

fn with_headers<T>(message: T, headers: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (name, value) in headers {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    request
}

/// SetSessionOptions: the per-option errors and the `name=value` of the cookie set.
async fn set_options(
    client: &mut FlightServiceClient<Channel>,
    options: &[(&str, &str)],
) -> (HashMap<String, i32>, String) {
    let body = SetRequest {
        options: options
            .iter()
            .map(|(k, v)| {
                let value = OptionValue {
                    string: Some(v.to_string()),
                };
                (k.to_string(), value)
            })
            .collect(),
    };
    let action = Action::new("SetSessionOptions", body.encode_to_vec());
    let response = client.do_action(action).await.unwrap();
    let cookie = response
        .metadata()
        .get("set-cookie")
        .expect("SetSessionOptions sets the session cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let results: Vec<_> = response.into_inner().try_collect().await.unwrap();
    let errors = SetResult::decode(results[0].body.as_ref())
        .unwrap()
        .errors
        .into_iter()
        .map(|(k, v)| (k, v.value))
        .collect();
    (errors, cookie)
}

async fn info(
    client: &mut FlightServiceClient<Channel>,
    descriptor: FlightDescriptor,
    headers: &[(&'static str, &str)],
) -> FlightInfo {
    let request = with_headers(descriptor, headers);
    client.get_flight_info(request).await.unwrap().into_inner()
}

fn statement(sql: &str) -> FlightDescriptor {
    let command = CommandStatementQuery {
        query: sql.into(),
        transaction_id: None,
    };
    FlightDescriptor::new_cmd(command.as_any().encode_to_vec())
}

async fn do_get(
    client: &mut FlightServiceClient<Channel>,
    ticket: Ticket,
    headers: &[(&'static str, &str)],
) -> Result<Vec<FlightData>, tonic::Status> {
    let response = client.do_get(with_headers(ticket, headers)).await?;
    response.into_inner().try_collect().await
}

async fn batches(data: Vec<FlightData>) -> Vec<arrow::array::RecordBatch> {
    let stream = futures::stream::iter(data.into_iter().map(Ok));
    arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(stream)
        .try_collect()
        .await
        .unwrap()
}

async fn fixture(prefix: &str) -> String {
    let cluster = cluster().await;
    let db = cluster.create_db(prefix).await;
    cluster
        .admin(&db)
        .await
        .batch_execute(
            "CREATE SCHEMA x;
             CREATE TABLE x.t AS SELECT g AS id, 'x'::text AS src FROM generate_series(1, 3) g;
             CREATE TABLE public.t AS SELECT 9 AS id, 'public'::text AS src;
             CREATE TABLE public.wide AS SELECT g AS id, repeat('abcdefgh', 40) || g AS pad
               FROM generate_series(1, 20000) g;
             ANALYZE public.wide;",
        )
        .await
        .unwrap();
    db
}

#[tokio::test]
async fn a_session_set_on_one_instance_applies_on_another() {
    let db = fixture("sessions_shared").await;
    let cluster = cluster().await;
    let with_secret = || {
        let mut config = cluster.config(&db);
        config.ticket_secret = Some("shared".into());
        config
    };
    let (a, b) = (
        TestServer::start(with_secret()).await,
        TestServer::start(with_secret()).await,
    );
    let (errors, cookie) = set_options(
        &mut raw(&a).await,
        &[
            ("schema", "x"),
            ("TimeZone", "Asia/Tokyo"),
            ("work_mem", "1GB"),
        ],
    )
    .await;
    assert_eq!(errors, HashMap::from([("work_mem".to_string(), 1)]));
    let headers = [("cookie", cookie.as_str())];
    let mut on_b = raw(&b).await;
    let found = info(
        &mut on_b,
        statement("SELECT src, now()::text AS now FROM t LIMIT 1"),
        &headers,
    )
    .await;
    let ticket = found.endpoint[0].ticket.clone().unwrap();
    // The ticket carries the settings: no cookie is needed to run it.
    let got = batches(do_get(&mut on_b, ticket, &[]).await.unwrap()).await;
    assert_eq!(got[0].column(0).as_string::<i32>().value(0), "x");
    assert!(
        got[0]
            .column(1)
            .as_string::<i32>()
            .value(0)
            .ends_with("+09")
    );
    let extraction = FlightDescriptor::new_cmd(r#"{"mode":{"fullTable":{"entity":"t"}}}"#);
    let found = info(&mut on_b, extraction, &headers).await;
    let mut rows = 0;
    for endpoint in found.endpoint {
        let data = do_get(&mut on_b, endpoint.ticket.unwrap(), &[]).await;
        for batch in batches(data.unwrap()).await {
            assert!(
                batch
                    .column(1)
                    .as_string::<i32>()
                    .iter()
                    .all(|s| s == Some("x"))
            );
            rows += batch.num_rows();
        }
    }
    assert_eq!(rows, 3);
    // A cookie of another secret is refused, not ignored.
    let c = TestServer::start(cluster.config(&db)).await;
    let status = raw(&c)
        .await
        .get_flight_info(with_headers(statement("SELECT 1"), &headers))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_grpc_deadline_becomes_the_statement_timeout() {
    let db = fixture("sessions_deadline").await;
    let server = TestServer::start(cluster().await.config(&db)).await;
    let mut client = raw(&server).await;
    let found = info(&mut client, statement(LONG_QUERY), &[]).await;
    let ticket = found.endpoint[0].ticket.clone().unwrap();
    let started = Instant::now();
    // The header alone (tonic does not time the stream's body): PostgreSQL must stop itself.
    let status = do_get(&mut client, ticket, &[("grpc-timeout", "700m")])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let admin = cluster().await.admin(&db).await;
    let running: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
             AND state = 'active' AND position('generate_series(1::bigint' in query) > 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(running, 0);
    server.stop().await;
}

#[tokio::test]
async fn compression_is_asked_for_and_in_the_ipc_headers() {
    let db = fixture("sessions_compression").await;
    let server = TestServer::start(cluster().await.config(&db)).await;
    let mut client = raw(&server).await;
    let found = info(&mut client, statement("SELECT id, pad FROM wide"), &[]).await;
    let mut sizes = Vec::new();
    for kind in ["none", "zstd", "lz4"] {
        let mut rows = 0;
        let mut bytes = 0;
        for endpoint in &found.endpoint {
            let ticket = endpoint.ticket.clone().unwrap();
            let headers = [("x-pgflight-compression", kind)];
            let data = do_get(&mut client, ticket, &headers).await.unwrap();
            for message in &data {
                bytes += message.data_body.len();
                let header = arrow::ipc::root_as_message(&message.data_header).unwrap();
                if let Some(batch) = header.header_as_record_batch() {
                    let codec = batch.compression().map(|c| c.codec());
                    let expected = match kind {
                        "zstd" => Some(arrow::ipc::CompressionType::ZSTD),
                        "lz4" => Some(arrow::ipc::CompressionType::LZ4_FRAME),
                        _ => None,
                    };
                    assert_eq!(codec, expected, "{kind}");
                }
            }
            rows += batches(data)
                .await
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>();
        }
        assert_eq!(rows, 20000, "{kind}");
        sizes.push(bytes);
    }
    assert!(
        sizes[1] * 5 < sizes[0] && sizes[2] * 5 < sizes[0],
        "{sizes:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn split_reads_import_their_snapshot_before_the_session_settings() {
    let db = fixture("sessions_split").await;
    let mut config = cluster().await.config(&db);
    config.partition_min_rows = 1000;
    config.max_partitions = 4;
    let server = TestServer::start(config).await;
    let mut client = raw(&server).await;
    let (errors, cookie) = set_options(
        &mut client,
        &[("TimeZone", "Asia/Tokyo"), ("statement_timeout", "60s")],
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    let headers = [("cookie", cookie.as_str())];
    let extraction = FlightDescriptor::new_cmd(r#"{"mode":{"fullTable":{"entity":"wide"}}}"#);
    let found = info(&mut client, extraction, &headers).await;
    assert!(
        found.endpoint.len() > 1,
        "{} endpoints",
        found.endpoint.len()
    );
    let mut rows = 0;
    for endpoint in found.endpoint {
        let ticket = endpoint.ticket.unwrap();
        // A deadline too: its statement_timeout joins the session's settings.
        let data = do_get(&mut client, ticket, &[("grpc-timeout", "30S")]).await;
        rows += batches(data.unwrap())
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>();
    }
    assert_eq!(rows, 20000);
    server.stop().await;
}
