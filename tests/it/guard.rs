//! The statement guard through the real server: every function of the denylist, spelled
//! plainly, qualified, quoted and nested (CTEs, subqueries, LATERAL, function arguments, FROM),
//! sent as a statement, as a prepared statement and under EXPLAIN, is refused with
//! PERMISSION_DENIED naming it — and never reaches PostgreSQL: the test database logs every
//! statement PostgreSQL parses (`log_min_duration_statement = 0`) and no probe is in the log.

use arrow_flight::error::FlightError;
use arrow_flight::sql::{
    ActionCreatePreparedStatementRequest, CommandStatementQuery, ProstMessageExt,
};
use arrow_flight::{Action, FlightClient, FlightDescriptor};
use futures::TryStreamExt;
use pgflight::config::{AuthMode, Config};
use pgflight::plan::guard::DENYLIST;
use prost::Message;
use tonic::Code;

use crate::harness::{Cluster, ROLE_PASSWORD, TestServer, cluster, flight_client, logged_in};

/// A real call of each denylisted function (or of one its pattern matches).
fn calls(admin_pid: i32) -> Vec<String> {
    [
        format!("pg_cancel_backend({admin_pid})"),
        format!("pg_terminate_backend({admin_pid})"),
        format!("pg_log_backend_memory_contexts({admin_pid})"),
        "pg_read_file('/etc/hostname')".into(),
        "pg_read_binary_file('/etc/hostname')".into(),
        "pg_stat_file('postgresql.conf')".into(),
        "pg_ls_dir('.')".into(),
        "pg_ls_waldir()".into(),
        "pg_file_write('guard_probe', 'x', false)".into(),
        "pg_logdir_ls()".into(),
        "lo_import('/etc/hostname')".into(),
        "lo_from_bytea(0, 'x')".into(),
        "loread(0, 1)".into(),
        "lowrite(0, 'x')".into(),
        "set_config('statement_timeout', '1', false)".into(),
        "pg_reload_conf()".into(),
        "pg_rotate_logfile()".into(),
        "pg_advisory_lock(4242)".into(),
        "pg_advisory_xact_lock_shared(4242)".into(),
        "pg_try_advisory_lock(4242)".into(),
        "pg_sleep(3)".into(),
        "pg_sleep_for('3 seconds')".into(),
        "dblink('dbname=postgres', 'select 1')".into(),
        "pg_notify('guard_probe', 'x')".into(),
        "pg_create_physical_replication_slot('guard_probe')".into(),
        "pg_drop_replication_slot('guard_probe')".into(),
        "pg_logical_emit_message(false, 'guard', 'x')".into(),
        "pg_replication_origin_create('guard_probe')".into(),
        "pg_switch_wal()".into(),
        "pg_switch_xlog()".into(),
        "pg_create_restore_point('guard_probe')".into(),
        "pg_wal_replay_pause()".into(),
        "pg_promote()".into(),
        "pg_backup_start('guard_probe')".into(),
        "pg_start_backup('guard_probe')".into(),
        "pg_stop_backup()".into(),
        "pg_stat_reset()".into(),
        "query_to_xml('select pg_sleep(3)', true, true, '')".into(),
        "query_to_xmlschema('select 1', true, true, '')".into(),
        "cursor_to_xml('c', 1, true, true, '')".into(),
        "ts_stat('select to_tsvector(''x'')')".into(),
        "ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery')".into(),
    ]
    .into()
}

/// The function name of a call.
fn name_of(call: &str) -> &str {
    &call[..call.find('(').unwrap()]
}

/// `call` written every way the guard must see through, each marked with `probe`.
fn spellings(call: &str, probe: &str) -> Vec<String> {
    let name = name_of(call);
    let args = &call[name.len()..];
    let upper = format!("{}{args}", name.to_uppercase());
    let quoted = format!("\"{name}\"{args}");
    [
        format!("/* {probe} */ SELECT {call}"),
        format!("/* {probe} */ SELECT {upper}"),
        format!("/* {probe} */ SELECT pg_catalog.{quoted}"),
        format!("/* {probe} */ SELECT \"pg_catalog\".{call} AS v FROM t"),
        format!("/* {probe} */ WITH c AS (SELECT {call} AS v) SELECT * FROM c"),
        format!("/* {probe} */ SELECT * FROM t WHERE id IN (SELECT length({call}::text))"),
        format!("/* {probe} */ SELECT * FROM t, LATERAL (SELECT {call} AS v) l"),
        format!("/* {probe} */ SELECT coalesce(md5({call}::text), 'x') FROM t"),
        format!("/* {probe} */ SELECT * FROM {call} AS f"),
        format!("EXPLAIN /* {probe} */ SELECT {call}"),
    ]
    .into()
}

fn statement(sql: &str) -> FlightDescriptor {
    FlightDescriptor::new_cmd(
        CommandStatementQuery {
            query: sql.into(),
            transaction_id: None,
        }
        .as_any()
        .encode_to_vec(),
    )
}

async fn statement_status(client: &mut FlightClient, sql: &str) -> Result<(), tonic::Status> {
    match client.get_flight_info(statement(sql)).await {
        Ok(_) => Ok(()),
        Err(FlightError::Tonic(status)) => Err(*status),
        Err(other) => panic!("{sql}: {other:?}"),
    }
}

async fn prepare_status(client: &mut FlightClient, sql: &str) -> Result<(), tonic::Status> {
    let request = ActionCreatePreparedStatementRequest {
        query: sql.into(),
        transaction_id: None,
    };
    let action = Action::new("CreatePreparedStatement", request.as_any().encode_to_vec());
    let result = match client.do_action(action).await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.map(|_| ()),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => Ok(()),
        Err(FlightError::Tonic(status)) => Err(*status),
        Err(other) => panic!("{sql}: {other:?}"),
    }
}

/// A database that logs every statement PostgreSQL parses, with a table `t`; and the pid of an
/// admin session that must survive.
async fn logged_db(cluster: &Cluster, prefix: &str) -> (String, tokio_postgres::Client, i32) {
    let (db, admin) = cluster
        .fixture(
            prefix,
            "CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 3) g",
        )
        .await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{db}\" SET log_min_duration_statement = 0"
        ))
        .await
        .unwrap();
    let pid: i32 = admin
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (db, admin, pid)
}

fn postgres_log(cluster: &Cluster) -> String {
    String::from_utf8_lossy(&std::fs::read(cluster.dir.join("postgres.log")).unwrap()).into()
}

async fn every_listed_function_is_refused_and_never_reaches_postgres(config: Config, db: &str) {
    let cluster = cluster().await;
    let admin = cluster.admin(db).await;
    let admin_pid: i32 = admin
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let server = TestServer::start(config).await;
    let mut client = flight_client(&server).await;
    let probe = format!("guard_probe_{db}");

    // Every entry of the denylist has a real call here.
    let calls = calls(admin_pid);
    for (pattern, _) in DENYLIST {
        let covered = calls
            .iter()
            .any(|call| glob_matches(pattern, name_of(call)));
        assert!(covered, "no call of {pattern} in the test");
    }

    let mut refusals = 0;
    for call in &calls {
        for sql in spellings(call, &probe) {
            let status = statement_status(&mut client, &sql).await.unwrap_err();
            assert_eq!(status.code(), Code::PermissionDenied, "{sql}: {status:?}");
            assert!(
                status
                    .message()
                    .to_lowercase()
                    .contains(&format!("refuses to run {}()", name_of(call))),
                "{sql}: {}",
                status.message()
            );
            refusals += 1;
        }
        let sql = format!("/* {probe} */ SELECT {call}");
        let status = prepare_status(&mut client, &sql).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{sql}: {status:?}");
        refusals += 1;
    }

    // A statement the guard lets through does reach PostgreSQL's log (the check below works).
    // A pass-through statement (an aggregate): PostgreSQL parses its text, comment included.
    let ok = format!("/* {probe}_ok */ SELECT count(*) FROM t");
    statement_status(&mut client, &ok).await.unwrap();
    let wait = std::time::Instant::now();
    while !postgres_log(cluster).contains(&format!("{probe}_ok")) {
        assert!(
            wait.elapsed() < std::time::Duration::from_secs(10),
            "the passed statement is not in PostgreSQL's log"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = postgres_log(cluster);
    let leaked: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&probe) && !l.contains(&format!("{probe}_ok")))
        .collect();
    assert!(leaked.is_empty(), "reached PostgreSQL: {leaked:#?}");
    println!("{refusals} refusals, none reached PostgreSQL");

    // Nothing ran: the admin session lives, no advisory lock, no large object, no replication slot.
    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'),
                    (SELECT count(*) FROM pg_largeobject_metadata),
                    (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'guard_probe')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (0, 0, 0)
    );
    server.stop().await;
}

/// The guard's `*` patterns, as the test reads them.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = match name.strip_prefix(parts[0]) {
        Some(rest) => rest,
        None => return false,
    };
    if parts.len() == 1 {
        return rest.is_empty();
    }
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(parts[parts.len() - 1])
}

#[tokio::test]
async fn the_guard_refuses_every_listed_function_for_the_shared_reader_role() {
    let cluster = cluster().await;
    let (db, _admin, _) = logged_db(cluster, "guard_reader").await;
    every_listed_function_is_refused_and_never_reaches_postgres(cluster.config(&db), &db).await;
}

/// The README quick start as a superuser with `allow_superuser = true`: the guard still refuses
/// every listed function (server files, signals, sleeps) before PostgreSQL sees it.
#[tokio::test]
async fn the_guard_refuses_every_listed_function_for_an_allowed_superuser_too() {
    let cluster = cluster().await;
    let (db, _admin, _) = logged_db(cluster, "guard_super").await;
    let mut config = cluster.superuser_config(&db);
    config.auth = AuthMode::None;
    every_listed_function_is_refused_and_never_reaches_postgres(config, &db).await;
}

#[tokio::test]
async fn ordinary_sql_passes_and_dba_wrappers_need_deny_functions() {
    let cluster = cluster().await;
    let (db, admin, _) = logged_db(cluster, "guard_pass").await;
    admin
        .batch_execute(
            "CREATE FUNCTION app_nap() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(0)';
             CREATE VIEW napping AS SELECT app_nap() AS n;",
        )
        .await
        .unwrap();
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    for sql in [
        "SELECT count(*) FROM t",
        "WITH x AS (SELECT id FROM t) SELECT sum(id) FROM x",
        "SELECT * FROM t, LATERAL generate_series(1, t.id::int) g",
        "SELECT now(), pg_backend_pid(), current_setting('TimeZone')",
        // What the guard cannot see: a function or a view a DBA created (documented).
        "SELECT app_nap()",
        "SELECT * FROM napping",
    ] {
        statement_status(&mut client, sql)
            .await
            .unwrap_or_else(|s| panic!("{sql}: {s:?}"));
    }
    // Unreadable SQL is refused: the guard cannot vouch for it.
    let status = statement_status(
        &mut client,
        "SELECT * FROM ROWS FROM (generate_series(1, 2))",
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("cannot check this statement"),
        "{}",
        status.message()
    );
    server.stop().await;

    let mut config = cluster.config(&db);
    config.deny_functions = vec!["app_*".into()];
    let server = TestServer::start(config).await;
    let mut client = flight_client(&server).await;
    let status = statement_status(&mut client, "SELECT public.APP_NAP()")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("deny_functions"),
        "{}",
        status.message()
    );
    server.stop().await;
}

/// `auth = "postgres"`: each client is its own role and PostgreSQL's privileges rule; the
/// guard stays out of the way.
#[tokio::test]
async fn auth_postgres_skips_the_guard() {
    let cluster = cluster().await;
    let (db, _admin, _) = logged_db(cluster, "guard_pgauth").await;
    let mut config = cluster.config(&db);
    config.auth = AuthMode::Postgres;
    let server = TestServer::start(config).await;
    let mut client = logged_in(&server, crate::harness::READER, ROLE_PASSWORD)
        .await
        .unwrap();
    statement_status(&mut client, "SELECT pg_sleep(0)")
        .await
        .unwrap();
    server.stop().await;
}
