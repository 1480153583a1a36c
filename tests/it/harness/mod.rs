//! Test harness: one PostgreSQL cluster per test binary, a database per test, and pgflight
//! servers started in-process on port 0.

pub mod certs;
pub mod cluster;
pub mod reads;

use std::net::SocketAddr;
use std::time::Duration;

use pgflight::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{OnceCell, oneshot};
use tokio::task::JoinHandle;

pub use cluster::{Cluster, READER, ROLE_PASSWORD, SUPERUSER_PASSWORD};
pub use reads::{
    cursor_read, do_get_status, fetch_all, fetch_all_ids, grpc_status, ids_of, read_all,
};

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();

/// The cluster shared by every test of this binary, started on first use.
pub async fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(Cluster::start).await
}

static LOGICAL_CLUSTER: OnceCell<Cluster> = OnceCell::const_new();

/// A cluster with `wal_level = logical` shared by the change data capture tests of this
/// binary, started on first use.
pub async fn logical_cluster() -> &'static Cluster {
    LOGICAL_CLUSTER.get_or_init(Cluster::start_logical).await
}

/// A loopback address whose port was free a moment ago (for a process that binds it itself).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A pgflight server running in-process.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), pgflight::server::ServeError>>>,
}

impl TestServer {
    /// Starts `pgflight::server::run` on 127.0.0.1 with a free port.
    pub async fn start(config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestServer::serve(listener, config)
    }

    /// Starts `pgflight::server::run` on a listener bound already (on a loopback address of
    /// the test's own, 127.0.0.2 …, when several instances run side by side).
    pub fn serve(listener: tokio::net::TcpListener, config: Config) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(pgflight::server::run(listener, config, async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// `http://addr` for gRPC clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the server to stop and waits until it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops within 30 s")
                .unwrap()
                .unwrap();
        }
    }
}

/// A fresh gRPC connection to `server`.
pub async fn channel(server: &TestServer) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A Flight client on a fresh connection to `server`.
pub async fn flight_client(server: &TestServer) -> arrow_flight::FlightClient {
    arrow_flight::FlightClient::new(channel(server).await)
}

/// A Flight SQL client on a fresh connection to `server`.
pub async fn sql_client(
    server: &TestServer,
) -> arrow_flight::sql::client::FlightSqlServiceClient<tonic::transport::Channel> {
    arrow_flight::sql::client::FlightSqlServiceClient::new(channel(server).await)
}

/// The statements run on `db` since the last `pg_stat_statements_reset()`, with their call
/// counts (pg_stat_statements' own queries left out). Needs
/// [`Cluster::start_with_statement_stats`].
pub async fn statements_run(admin: &tokio_postgres::Client, db: &str) -> Vec<(String, i64)> {
    admin
        .query(
            "SELECT s.query, s.calls FROM pg_stat_statements s
              JOIN pg_database d ON d.oid = s.dbid
             WHERE d.datname = $1 AND s.query NOT ILIKE '%pg_stat_statements%'
               -- the role check each new connection runs (pg/roles.rs), not the request's
               AND s.query NOT ILIKE '%rolbypassrls%'",
            &[&db],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// A Flight client that did the Handshake as `user` and sends the bearer token it got.
pub async fn logged_in(
    server: &TestServer,
    user: &str,
    password: &str,
) -> Result<arrow_flight::FlightClient, String> {
    let channel = channel(server).await;
    let mut sql = arrow_flight::sql::client::FlightSqlServiceClient::new(channel.clone());
    sql.handshake(user, password)
        .await
        .map_err(|e| e.to_string())?;
    let token = sql
        .token()
        .cloned()
        .ok_or("no bearer token in the Handshake's answer")?;
    let mut client = arrow_flight::FlightClient::new(channel);
    client
        .add_header("authorization", &format!("Bearer {token}"))
        .unwrap();
    Ok(client)
}

/// The seed connector's full-table request for `entity`, as a command descriptor.
pub fn full_table(entity: &str) -> arrow_flight::FlightDescriptor {
    let json = serde_json::json!({"mode": {"fullTable": {"entity": entity}}});
    arrow_flight::FlightDescriptor::new_cmd(json.to_string())
}

/// A plain HTTP/1.1 GET; returns (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get_with(addr, path, None).await
}

/// A plain HTTP/1.1 GET with an optional `Authorization` header; returns (status code, body).
pub async fn http_get_with(
    addr: SocketAddr,
    path: &str,
    authorization: Option<&str>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
