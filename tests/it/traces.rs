//! OpenTelemetry traces (`otlp_endpoint`): the real binary exports to an OTLP/gRPC receiver of
//! the test's own; a Flight call made with a W3C `traceparent` continues the client's trace, its
//! PostgreSQL statements are children of the call's span, and the attributes carry the relation,
//! a literal-free fingerprint and the right row counts; `application_name` carries the trace id.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow_flight::sql::client::FlightSqlServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::harness::{READER, ROLE_PASSWORD, cluster, free_addr, full_table, read_all};

/// The client's trace and span, as its `traceparent` names them.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// Every span exported to it.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Starts receiving on a free loopback port; its `http://` address.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        format!("http://{addr}")
    }

    /// Waits (at most 20 s) until a span of the client's trace named `name` has arrived.
    async fn wait_for(&self, name: &str) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans: Vec<Span> = self.0.lock().unwrap().clone();
            if spans
                .iter()
                .any(|s| s.name == name && hex(&s.trace_id) == TRACE_ID)
            {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "no span {name:?} of the client's trace arrived; got {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The string or integer value of `span`'s attribute `key`, as text.
fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// The spans named `name` whose parent is `parent` (hex span id).
fn children<'a>(spans: &'a [Span], name: &str, parent: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.name == name && hex(&s.parent_span_id) == parent)
        .collect()
}

/// The pgflight binary serving `db`, exporting to `endpoint`; stopped when dropped.
struct Pgflight {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Pgflight {
    async fn start(db: &str, endpoint: &str) -> Pgflight {
        let cluster = cluster().await;
        let addr = free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_pgflight"))
            .arg("serve")
            .env_clear()
            .env("PGFLIGHT_HOST", "127.0.0.1")
            .env("PGFLIGHT_PORT", cluster.port.to_string())
            .env("PGFLIGHT_DATABASE", db)
            .env("PGFLIGHT_USERNAME", READER)
            .env("PGFLIGHT_PASSWORD", ROLE_PASSWORD)
            .env("PGFLIGHT_SSLMODE", "disable")
            .env("PGFLIGHT_LISTEN", addr.to_string())
            .env("PGFLIGHT_OTLP_ENDPOINT", endpoint)
            // The SDK's own setting: export every 100 ms instead of every 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .current_dir(&cluster.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Pgflight { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "pgflight never listened");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}

impl Drop for Pgflight {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_traced_flight_call_continues_the_client_trace_down_to_postgresql() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "traces",
            "CREATE TABLE traced (id int8 PRIMARY KEY, name text);
             INSERT INTO traced SELECT i, 'row ' || i FROM generate_series(1, 100) i;
             GRANT SELECT ON traced TO reader;",
        )
        .await;
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let server = Pgflight::start(&db, &endpoint).await;
    let traceparent = format!("00-{TRACE_ID}-{CLIENT_SPAN}-01");

    // Client SQL with literals: 60 rows, and the backend's application_name from PostgreSQL.
    let mut sql = FlightSqlServiceClient::new(server.channel().await);
    sql.set_header("traceparent", traceparent.clone());
    let info = sql
        .execute(
            "SELECT t.id, a.application_name FROM traced t \
             CROSS JOIN (SELECT application_name FROM pg_stat_activity \
                         WHERE pid = pg_backend_pid()) a \
             WHERE t.id > 40 AND t.name <> 'secret-literal'"
                .to_string(),
            None,
        )
        .await
        .unwrap();
    let mut rows = 0;
    let mut names = Vec::new();
    for batch in read_all(&mut sql, &info).await {
        rows += batch.num_rows();
        let apps = batch.column(1).as_string::<i32>();
        names.extend(apps.iter().flatten().map(str::to_owned));
    }
    assert_eq!(rows, 60);
    // The read's transaction is tagged with its query (pgflight q=…) and the trace.
    assert!(
        names.iter().all(|n| n.starts_with("pgflight q=")
            && n.ends_with(&format!(" trace={TRACE_ID}"))
            && n.len() <= 63),
        "{:?}",
        names.first()
    );

    let spans = receiver.wait_for("flight DoGet").await;
    let info_spans = children(&spans, "flight GetFlightInfo", CLIENT_SPAN);
    assert_eq!(
        info_spans.len(),
        1,
        "GetFlightInfo is a child of the client's span"
    );
    let gets = children(&spans, "flight DoGet", CLIENT_SPAN);
    assert_eq!(gets.len(), 1, "DoGet is a child of the client's span");
    let get = gets[0];
    assert_eq!(hex(&get.trace_id), TRACE_ID);
    assert_eq!(attribute(get, "pgflight.rows").as_deref(), Some("60"));
    assert_eq!(attribute(get, "rpc.grpc.status_code").as_deref(), Some("0"));
    let subject = attribute(get, "pgflight.subject").unwrap();
    assert!(
        subject.contains("traced") && !subject.contains("secret"),
        "{subject}"
    );
    // Client SQL runs through the extended protocol (pg/data_rows.rs), its span a child of
    // DoGet.
    let copies = children(&spans, "postgres EXECUTE", &hex(&get.span_id));
    assert_eq!(copies.len(), 1, "the statement is a child of DoGet");
    let copy = copies[0];
    assert_eq!(
        attribute(copy, "db.response.returned_rows").as_deref(),
        Some("60")
    );
    assert_eq!(
        attribute(copy, "db.system.name").as_deref(),
        Some("postgresql")
    );
    let text = attribute(copy, "db.query.text").unwrap();
    assert!(text.starts_with("SELECT"), "{text}");
    assert!(text.contains("traced"), "{text}");
    assert!(
        !text.contains("secret-literal") && !text.contains("40"),
        "{text}"
    );

    // SQL with work left for DataFusion (an offset): its scan's COPY is a child of DoGet too.
    let info = sql
        .execute(
            "SELECT id FROM traced ORDER BY id OFFSET 10".to_string(),
            None,
        )
        .await
        .unwrap();
    let rows: usize = read_all(&mut sql, &info)
        .await
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 90);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans: Vec<Span> = receiver.0.lock().unwrap().clone();
        let found = children(&spans, "flight DoGet", CLIENT_SPAN)
            .into_iter()
            .filter(|s| attribute(s, "pgflight.rows").as_deref() == Some("90"))
            .any(|get| !children(&spans, "postgres COPY", &hex(&get.span_id)).is_empty());
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no COPY span under the DataFusion query's DoGet"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A table extraction: the relation names the COPY, all 100 rows.
    let mut flight = arrow_flight::FlightClient::new(server.channel().await);
    flight.add_header("traceparent", &traceparent).unwrap();
    let info = flight.get_flight_info(full_table("traced")).await.unwrap();
    let rows: usize = read_all(&mut flight, &info)
        .await
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 100);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (get, copy) = loop {
        let spans: Vec<Span> = receiver.0.lock().unwrap().clone();
        let found = children(&spans, "flight DoGet", CLIENT_SPAN)
            .into_iter()
            .filter(|s| attribute(s, "pgflight.rows").as_deref() == Some("100"))
            .find_map(|get| {
                let copy = children(&spans, "postgres COPY", &hex(&get.span_id))
                    .first()
                    .copied()?
                    .clone();
                Some((get.clone(), copy))
            });
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the extraction's spans never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        attribute(&get, "pgflight.subject").as_deref(),
        Some("public.traced")
    );
    assert_eq!(
        attribute(&copy, "db.collection.name").as_deref(),
        Some("public.traced")
    );
    assert_eq!(
        attribute(&copy, "db.response.returned_rows").as_deref(),
        Some("100")
    );
    // Planning asks the catalog: that statement is a child of GetFlightInfo.
    let spans: Vec<Span> = receiver.0.lock().unwrap().clone();
    assert!(
        children(&spans, "flight GetFlightInfo", CLIENT_SPAN)
            .iter()
            .any(|info| !children(&spans, "postgres catalog", &hex(&info.span_id)).is_empty()),
        "no catalog statement span under GetFlightInfo"
    );
}
