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

use crate::harness::{TestServer, cluster};

async fn client(server: &TestServer) -> FlightClient {
    let channel = Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    FlightClient::new(channel)
}

async fn do_get_status(client: &mut FlightClient, ticket: Ticket) -> tonic::Status {
    let err = match client.do_get(ticket).await {
        Err(err) => err,
        Ok(stream) => stream.try_collect::<Vec<_>>().await.unwrap_err(),
    };
    match err {
        FlightError::Tonic(status) => *status,
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

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
    let db = cluster.create_db("tickets").await;
    let admin = cluster.admin(&db).await;
    admin
        .batch_execute("CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 10) g")
        .await
        .unwrap();
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
    let batches: Vec<_> = client(&b)
        .await
        .do_get(ticket.clone())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    let status = do_get_status(&mut client(&c).await, ticket).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    for server in [a, b, c] {
        server.stop().await;
    }
}
