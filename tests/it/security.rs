//! Tickets are signed, expire and are bound to the caller: an altered, forged or expired
//! ticket is refused before anything runs in PostgreSQL.

use std::time::Duration;

use arrow_flight::error::FlightError;
use arrow_flight::sql::{Any, Command, ProstMessageExt, TicketStatementQuery};
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use futures::TryStreamExt;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::{
    TestServer, cluster, do_get_status, flight_client as client, ids_of, read_all,
};

/// The statement pgflight's single pooled backend ran last.
async fn last_statement(admin: &tokio_postgres::Client) -> String {
    admin
        .query_one(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'pgflight'
               AND datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn altered_forged_and_expired_tickets_are_refused_before_postgres() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "tickets",
            "CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 10) g",
        )
        .await;
    let mut config = cluster.config(&db);
    config.max_connections = 1;
    config.ticket_ttl = Duration::from_secs(2);
    let server = TestServer::start(config).await;
    let mut client = client(&server).await;
    let descriptor = FlightDescriptor::new_cmd(r#"{"mode":{"fullTable":{"entity":"t"}}}"#);
    let info = client.get_flight_info(descriptor.clone()).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let before = last_statement(&admin).await;
    assert!(!before.contains("COPY"), "{before}");

    // Every single-byte change of the sealed handle is refused.
    let any = Any::decode(&*ticket.ticket).unwrap();
    let Command::TicketStatementQuery(query) = Command::try_from(any).unwrap() else {
        panic!("not a TicketStatementQuery");
    };
    let sealed = query.statement_handle.to_vec();
    for i in (0..sealed.len()).step_by(7) {
        let mut altered = sealed.clone();
        altered[i] ^= 0x20;
        let forged = TicketStatementQuery {
            statement_handle: altered.into(),
        };
        let status = do_get_status(&mut client, Ticket::new(forged.as_any().encode_to_vec())).await;
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "byte {i}: {}",
            status.message()
        );
    }
    // A handle pgflight never sealed (an unsigned plan naming another table) is refused too.
    let unsigned = TicketStatementQuery {
        statement_handle: b"\x08\x01\x12\x06public\x1a\x01t".to_vec().into(),
    };
    let status = do_get_status(&mut client, Ticket::new(unsigned.as_any().encode_to_vec())).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("not issued by this pgflight"),
        "{}",
        status.message()
    );
    assert_eq!(
        last_statement(&admin).await,
        before,
        "a refused ticket ran SQL"
    );

    // The genuine ticket works, then expires.
    let rows: usize = client
        .do_get(ticket.clone())
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 10);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let status = do_get_status(&mut client, ticket).await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("expired"), "{}", status.message());
    server.stop().await;
}

#[tokio::test]
async fn instances_sharing_a_ticket_secret_accept_each_others_tickets() {
    let cluster = cluster().await;
    let db = cluster.create_db("shared_secret").await;
    cluster
        .admin(&db)
        .await
        .batch_execute("CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 5) g")
        .await
        .unwrap();
    let with_secret = |secret: &str| {
        let mut config = cluster.config(&db);
        config.ticket_secret = Some(secret.into());
        config
    };
    let a = TestServer::start(with_secret("shared")).await;
    let b = TestServer::start(with_secret("shared")).await;
    let c = TestServer::start(with_secret("different")).await;
    let descriptor = FlightDescriptor::new_cmd(r#"{"mode":{"fullTable":{"entity":"t"}}}"#);
    let info = client(&a).await.get_flight_info(descriptor).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let batches = read_all(&mut client(&b).await, &info).await;
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    let status = do_get_status(&mut client(&c).await, ticket).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    for server in [a, b, c] {
        server.stop().await;
    }
}

mod tls {
    use super::*;
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};

    use crate::harness::Cluster;

    fn tls_config(cluster: &Cluster, db: &str, mutual: bool) -> pgflight::config::Config {
        let mut config = cluster.config(db);
        config.tls_cert = Some(cluster.certs.server_cert.clone());
        config.tls_key = Some(cluster.certs.server_key.clone());
        if mutual {
            config.tls_client_ca = Some(cluster.certs.ca.clone());
        }
        config
    }

    async fn tls_client(
        server: &TestServer,
        cluster: &Cluster,
        identity: Option<(&std::path::Path, &std::path::Path)>,
    ) -> Result<FlightClient, tonic::transport::Error> {
        let ca = std::fs::read(&cluster.certs.ca).unwrap();
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name("localhost");
        if let Some((cert, key)) = identity {
            let (cert, key) = (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap());
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        let url = format!("https://localhost:{}", server.addr.port());
        let channel = Channel::from_shared(url)
            .unwrap()
            .tls_config(tls)?
            .connect()
            .await?;
        Ok(FlightClient::new(channel))
    }

    async fn count_rows(client: &mut FlightClient) -> Result<usize, FlightError> {
        let descriptor = FlightDescriptor::new_cmd(r#"{"mode":{"fullTable":{"entity":"t"}}}"#);
        let info = client.get_flight_info(descriptor).await?;
        let batches: Vec<_> = client
            .do_get(info.endpoint[0].ticket.clone().unwrap())
            .await?
            .try_collect()
            .await?;
        Ok(batches.iter().map(|b| b.num_rows()).sum())
    }

    async fn fixture(prefix: &str) -> (&'static Cluster, String) {
        let cluster = cluster().await;
        let db = cluster.create_db(prefix).await;
        cluster
            .admin(&db)
            .await
            .batch_execute("CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 3) g")
            .await
            .unwrap();
        (cluster, db)
    }

    #[tokio::test]
    async fn flight_over_tls_and_plaintext_refused() {
        let (cluster, db) = fixture("tls").await;
        let server = TestServer::start(tls_config(cluster, &db, false)).await;
        let mut client = tls_client(&server, cluster, None).await.unwrap();
        assert_eq!(count_rows(&mut client).await.unwrap(), 3);

        // A plaintext client gets nowhere on the TLS port, and /healthz is not served in clear.
        let mut plain = super::client(&server).await;
        assert!(count_rows(&mut plain).await.is_err());
        let (status, _) = crate::harness::http_get(server.addr, "/healthz").await;
        assert_ne!(status, 200);
        server.stop().await;
    }

    #[tokio::test]
    async fn mutual_tls_needs_a_certificate_from_the_client_ca() {
        let (cluster, db) = fixture("mtls").await;
        let server = TestServer::start(tls_config(cluster, &db, true)).await;
        let certs = &cluster.certs;
        let mut good = tls_client(
            &server,
            cluster,
            Some((&certs.client_cert, &certs.client_key)),
        )
        .await
        .unwrap();
        assert_eq!(count_rows(&mut good).await.unwrap(), 3);

        for identity in [None, Some((&certs.stranger_cert, &certs.stranger_key))] {
            let refused = match tls_client(
                &server,
                cluster,
                identity.map(|(c, k)| (c.as_path(), k.as_path())),
            )
            .await
            {
                Err(_) => true,
                Ok(mut client) => count_rows(&mut client).await.is_err(),
            };
            assert!(refused, "a client without a valid certificate got through");
        }
        server.stop().await;
    }
}

mod password_auth {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch};
    use arrow_flight::encode::FlightDataEncoderBuilder;

    use arrow_flight::sql::{
        ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
        ActionCreatePreparedStatementResult, CommandPreparedStatementQuery,
        DoPutPreparedStatementResult,
    };
    use pgflight::config::AuthMode;
    use pgflight::flight::password::PasswordHash;

    /// A server with `auth = "password"` and users alice / bob.
    async fn start(prefix: &str, token_ttl: Duration) -> (TestServer, tempfile::TempDir) {
        start_with(prefix, token_ttl, true).await
    }

    async fn start_with(
        prefix: &str,
        token_ttl: Duration,
        metrics_auth: bool,
    ) -> (TestServer, tempfile::TempDir) {
        let cluster = cluster().await;
        let db = cluster.create_db(prefix).await;
        cluster
            .admin(&db)
            .await
            .batch_execute("CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 3) g")
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users");
        let alice = PasswordHash::new("alice-pw", 1000).unwrap();
        let bob = PasswordHash::new("bob-pw", 1000).unwrap();
        std::fs::write(&users, format!("alice:{alice}\nbob:{bob}\n")).unwrap();
        let mut config = cluster.config(&db);
        config.auth = AuthMode::Password;
        config.users_file = Some(users);
        config.token_ttl = token_ttl;
        config.metrics_auth = metrics_auth;
        (TestServer::start(config).await, dir)
    }

    use crate::harness::logged_in;

    fn descriptor() -> FlightDescriptor {
        FlightDescriptor::new_cmd(r#"{"mode":{"fullTable":{"entity":"t"}}}"#)
    }

    #[tokio::test]
    async fn handshake_token_works_and_wrong_passwords_do_not() {
        let (server, _dir) = start("auth", Duration::from_secs(60)).await;
        let mut alice = logged_in(&server, "alice", "alice-pw").await.unwrap();
        let info = alice.get_flight_info(descriptor()).await.unwrap();
        let batches = read_all(&mut alice, &info).await;
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
        // The token is reused across calls.
        alice.get_flight_info(descriptor()).await.unwrap();

        let err = logged_in(&server, "alice", "guess").await.err().unwrap();
        assert!(err.contains("authentication failed"), "{err}");
        let mut anonymous = super::client(&server).await;
        let err = anonymous
            .get_flight_info(descriptor())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("authentication required"), "{err}");
        server.stop().await;
    }

    #[tokio::test]
    async fn another_users_ticket_is_refused_before_postgres() {
        let (server, _dir) = start("auth_bind", Duration::from_secs(60)).await;
        let mut alice = logged_in(&server, "alice", "alice-pw").await.unwrap();
        let info = alice.get_flight_info(descriptor()).await.unwrap();
        let ticket = info.endpoint[0].ticket.clone().unwrap();
        let mut bob = logged_in(&server, "bob", "bob-pw").await.unwrap();
        let status = do_get_status(&mut bob, ticket).await;
        assert!(status.message().contains("another user"), "{status:?}");
        server.stop().await;
    }

    /// ActionCreatePreparedStatementRequest as `client`: the sealed handle.
    async fn prepare(client: &mut FlightClient, sql: &str) -> bytes::Bytes {
        let request = ActionCreatePreparedStatementRequest {
            query: sql.to_string(),
            transaction_id: None,
        };
        let action =
            arrow_flight::Action::new("CreatePreparedStatement", request.as_any().encode_to_vec());
        let results: Vec<bytes::Bytes> = client
            .do_action(action)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let any = Any::decode(&*results[0]).unwrap();
        let result: ActionCreatePreparedStatementResult = any.unpack().unwrap().unwrap();
        result.prepared_statement_handle
    }

    fn prepared_descriptor(handle: &bytes::Bytes) -> FlightDescriptor {
        let command = CommandPreparedStatementQuery {
            prepared_statement_handle: handle.clone(),
        };
        FlightDescriptor::new_cmd(command.as_any().encode_to_vec())
    }

    /// DoPut of one parameter row (id = 2) for `handle`: the bound handle, or the error.
    async fn bind(
        client: &mut FlightClient,
        handle: &bytes::Bytes,
    ) -> Result<bytes::Bytes, String> {
        let params = RecordBatch::try_from_iter([(
            "p",
            std::sync::Arc::new(Int64Array::from(vec![2])) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let data = FlightDataEncoderBuilder::new()
            .with_flight_descriptor(Some(prepared_descriptor(handle)))
            .build(futures::stream::iter([Ok(params)]));
        let results: Vec<arrow_flight::PutResult> = match client.do_put(data).await {
            Ok(stream) => stream.try_collect().await.map_err(|e| e.to_string())?,
            Err(e) => return Err(e.to_string()),
        };
        let result = DoPutPreparedStatementResult::decode(&*results[0].app_metadata).unwrap();
        Ok(result.prepared_statement_handle.unwrap())
    }

    async fn rows(client: &mut FlightClient, handle: &bytes::Bytes) -> Vec<i64> {
        let info = client
            .get_flight_info(prepared_descriptor(handle))
            .await
            .unwrap();
        ids_of(&read_all(client, &info).await)
    }

    #[tokio::test]
    async fn another_users_prepared_statement_is_refused() {
        let (server, _dir) = start("auth_prepared", Duration::from_secs(60)).await;
        let mut alice = logged_in(&server, "alice", "alice-pw").await.unwrap();
        let mut bob = logged_in(&server, "bob", "bob-pw").await.unwrap();
        let handle = prepare(&mut alice, "SELECT id FROM t WHERE id = $1").await;
        let bound = bind(&mut alice, &handle).await.unwrap();
        assert_eq!(rows(&mut alice, &bound).await, vec![2]);

        for handle in [&handle, &bound] {
            // Execute (GetFlightInfo), bind (DoPut) and close, each as bob: refused.
            let err = bob
                .get_flight_info(prepared_descriptor(handle))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("another user"), "{err}");
            let err = bind(&mut bob, handle).await.unwrap_err();
            assert!(err.contains("another user"), "{err}");
            let close = ActionClosePreparedStatementRequest {
                prepared_statement_handle: handle.clone(),
            };
            let action =
                arrow_flight::Action::new("ClosePreparedStatement", close.as_any().encode_to_vec());
            let err = match bob.do_action(action).await {
                Err(e) => e.to_string(),
                Ok(stream) => stream
                    .try_collect::<Vec<_>>()
                    .await
                    .unwrap_err()
                    .to_string(),
            };
            assert!(err.contains("another user"), "{err}");
        }

        // The ticket alice's execution gave her is hers alone too.
        let info = alice
            .get_flight_info(prepared_descriptor(&bound))
            .await
            .unwrap();
        let status = do_get_status(&mut bob, info.endpoint[0].ticket.clone().unwrap()).await;
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(status.message().contains("another user"), "{status:?}");
        server.stop().await;
    }

    #[tokio::test]
    async fn expired_tokens_are_refused() {
        let (server, _dir) = start("auth_expiry", Duration::from_millis(500)).await;
        let mut alice = logged_in(&server, "alice", "alice-pw").await.unwrap();
        alice.get_flight_info(descriptor()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(800)).await;
        let err = alice
            .get_flight_info(descriptor())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("bearer token expired"), "{err}");
        server.stop().await;
    }

    #[tokio::test]
    async fn operational_endpoints_need_credentials_unless_opened() {
        use crate::harness::http_get_with;
        use base64::Engine;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:alice-pw")
        );
        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:nope")
        );
        let (server, _dir) = start("auth_http", Duration::from_secs(60)).await;
        assert_eq!(http_get_with(server.addr, "/healthz", None).await.0, 200);
        for path in ["/readyz", "/metrics"] {
            assert_eq!(
                http_get_with(server.addr, path, None).await.0,
                401,
                "{path}"
            );
            assert_eq!(
                http_get_with(server.addr, path, Some(&wrong)).await.0,
                401,
                "{path}"
            );
            assert_eq!(
                http_get_with(server.addr, path, Some(&basic)).await.0,
                200,
                "{path}"
            );
        }
        server.stop().await;

        let (server, _dir) = start_with("auth_http_open", Duration::from_secs(60), false).await;
        for path in ["/healthz", "/readyz", "/metrics"] {
            assert_eq!(
                http_get_with(server.addr, path, None).await.0,
                200,
                "{path}"
            );
        }
        server.stop().await;
    }
}

mod postgres_auth {
    use super::*;

    use pgflight::config::AuthMode;

    use crate::harness::logged_in;

    async fn rows(client: &mut FlightClient, entity: &str) -> Result<Vec<i64>, FlightError> {
        let json = format!(r#"{{"mode":{{"fullTable":{{"entity":"{entity}"}}}}}}"#);
        let info = client
            .get_flight_info(FlightDescriptor::new_cmd(json))
            .await?;
        let batches: Vec<_> = client
            .do_get(info.endpoint[0].ticket.clone().unwrap())
            .await?
            .try_collect()
            .await?;
        let mut ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    #[tokio::test]
    async fn each_role_reads_with_its_own_privileges_and_row_security() {
        let cluster = cluster().await;
        let db = cluster.create_db("pg_roles").await;
        let admin = cluster.admin(&db).await;
        admin
            .batch_execute(&format!(
                "CREATE TABLE notes (id int8, owner text);
                 INSERT INTO notes VALUES (1, 'reader_a'), (2, 'reader_b'), (3, 'reader_a');
                 ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY own ON notes USING (owner = current_user);
                 CREATE TABLE secrets (id int8); INSERT INTO secrets VALUES (42);
                 DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader_a') THEN
                     CREATE ROLE reader_a LOGIN PASSWORD 'pw-a'; END IF;
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader_b') THEN
                     CREATE ROLE reader_b LOGIN PASSWORD 'pw-b'; END IF;
                 END $$;
                 GRANT SELECT ON notes TO reader_a, reader_b;
                 GRANT SELECT ON secrets TO reader_b;
                 GRANT CONNECT ON DATABASE \"{db}\" TO reader_a, reader_b;"
            ))
            .await
            .unwrap();
        let mut config = cluster.config(&db);
        config.auth = AuthMode::Postgres;
        let server = TestServer::start(config).await;

        let mut a = logged_in(&server, "reader_a", "pw-a").await.unwrap();
        let mut b = logged_in(&server, "reader_b", "pw-b").await.unwrap();
        assert_eq!(rows(&mut a, "notes").await.unwrap(), vec![1, 3]);
        assert_eq!(rows(&mut b, "notes").await.unwrap(), vec![2]);
        assert_eq!(rows(&mut b, "secrets").await.unwrap(), vec![42]);
        // The one privilege rule: a relation the role may not read is NOT_FOUND.
        let denied = rows(&mut a, "secrets").await.unwrap_err().to_string();
        assert!(denied.contains("not readable by this role"), "{denied}");

        let err = logged_in(&server, "reader_a", "wrong").await.err().unwrap();
        assert!(err.contains("authentication failed for user"), "{err}");
        assert!(!err.contains("wrong"), "{err}");
        let mut anonymous = super::client(&server).await;
        assert!(rows(&mut anonymous, "notes").await.is_err());
        server.stop().await;
    }
}
