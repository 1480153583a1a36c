//! `auth = "password"` with users mapped to PostgreSQL roles (`alice:HASH:analyst`): the
//! mapped user's discovery, planning and reads run as that role (`SET ROLE` on its pool's
//! sessions; the configured role is a member), with its privileges and row-level security;
//! tickets stay bound to the user.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow_flight::FlightClient;
use arrow_flight::error::FlightError;
use futures::TryStreamExt;
use pgflight::config::AuthMode;
use pgflight::flight::password::PasswordHash;
use tonic::Code;

use crate::harness::{
    ROLE_PASSWORD, TestServer, cluster, do_get_status, full_table, grpc_status, logged_in,
};

async fn ids(client: &mut FlightClient, entity: &str) -> Result<Vec<i64>, FlightError> {
    let info = client.get_flight_info(full_table(entity)).await?;
    let batches: Vec<RecordBatch> = client
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await?
        .try_collect()
        .await?;
    Ok(batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect())
}

#[tokio::test]
async fn mapped_users_read_as_their_role() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "user_roles",
            &format!(
                "CREATE ROLE ur_analyst NOLOGIN;
                 -- NOINHERIT: the login may SET ROLE ur_analyst but has not its privileges.
                 CREATE ROLE ur_login LOGIN NOINHERIT PASSWORD '{ROLE_PASSWORD}';
                 GRANT ur_analyst TO ur_login;
                 CREATE ROLE ur_stranger NOLOGIN;
                 CREATE TABLE notes (id int8, owner text);
                 INSERT INTO notes VALUES (1, 'ur_analyst'), (2, 'ur_login'), (3, 'ur_analyst');
                 ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY own ON notes USING (owner = current_user);
                 CREATE TABLE analyst_only AS SELECT 7::int8 AS id;
                 GRANT SELECT ON notes TO ur_login;
                 GRANT SELECT ON notes, analyst_only TO ur_analyst;"
            ),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let hash = PasswordHash::new("pw", 1000).unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, format!("alice:{hash}:ur_analyst\nbob:{hash}\n")).unwrap();
    let mut config = cluster.config(&db);
    config.username = "ur_login".into();
    config.auth = AuthMode::Password;
    config.users_file = Some(users.clone());
    let server = TestServer::start(config.clone()).await;

    let mut alice = logged_in(&server, "alice", "pw").await.unwrap();
    let mut bob = logged_in(&server, "bob", "pw").await.unwrap();
    assert_eq!(ids(&mut alice, "analyst_only").await.unwrap(), vec![7]);
    assert_eq!(ids(&mut alice, "notes").await.unwrap(), vec![1, 3]);
    assert_eq!(ids(&mut bob, "notes").await.unwrap(), vec![2]);
    assert_eq!(
        grpc_status(ids(&mut bob, "analyst_only").await.unwrap_err()).code(),
        Code::NotFound
    );

    // Tickets stay bound to the user: alice's ticket is refused to bob.
    let info = alice
        .get_flight_info(full_table("analyst_only"))
        .await
        .unwrap();
    let status = do_get_status(&mut bob, info.endpoint[0].ticket.clone().unwrap()).await;
    assert_eq!(status.code(), Code::PermissionDenied);
    server.stop().await;

    // A role the configured user cannot switch to stops start-up, naming it.
    std::fs::write(&users, format!("carol:{hash}:ur_stranger\n")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = pgflight::server::run(listener, config, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ur_stranger"), "{err}");
    assert!(err.contains("must be a member"), "{err}");
}
