//! `max_streams_per_user`: one DoGet stream more than allowed is RESOURCE_EXHAUSTED at once
//! (not queued for the pool); another user is not affected; a finished or dropped stream frees
//! its place.

use std::time::{Duration, Instant};

use arrow_flight::error::FlightError;
use futures::StreamExt;
use pgflight::config::AuthMode;
use pgflight::flight::password::PasswordHash;
use tonic::Code;

use crate::harness::{TestServer, cluster, full_table, logged_in};

#[tokio::test]
async fn streams_beyond_the_limit_are_resource_exhausted_at_once() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "limits",
            "CREATE TABLE big AS SELECT g::int8 AS id, repeat('x', 200) AS pad
               FROM generate_series(1, 200000) g",
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let hash = PasswordHash::new("pw", 1000).unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, format!("alice:{hash}\nbob:{hash}\n")).unwrap();
    let mut config = cluster.config(&db);
    config.auth = AuthMode::Password;
    config.users_file = Some(users);
    config.max_streams_per_user = Some(1);
    config.batch_size = 1000;
    let server = TestServer::start(config).await;
    let mut alice = logged_in(&server, "alice", "pw").await.unwrap();
    let mut bob = logged_in(&server, "bob", "pw").await.unwrap();
    let info = alice.get_flight_info(full_table("big")).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();

    // Alice's first stream, read one batch and left open (the server waits for the reader).
    let mut first = alice.do_get(ticket.clone()).await.unwrap();
    first.next().await.unwrap().unwrap();

    let started = Instant::now();
    let err = match alice.do_get(ticket.clone()).await {
        Err(err) => err,
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
    };
    match err {
        FlightError::Tonic(status) => {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            assert!(
                status.message().contains("max_streams_per_user"),
                "{status:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );

    // Bob is another user.
    let info = bob.get_flight_info(full_table("big")).await.unwrap();
    let mut bobs = bob
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    bobs.next().await.unwrap().unwrap();
    drop(bobs);

    // Dropping alice's stream frees her place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match alice.do_get(ticket.clone()).await {
            Ok(mut stream) => match stream.next().await {
                Some(Ok(_)) => break,
                other => assert!(Instant::now() < deadline, "{other:?}"),
            },
            Err(err) => assert!(Instant::now() < deadline, "{err:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}
