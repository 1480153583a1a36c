//! The guard against every listed function and the ways a call can be spelled or hidden, and
//! the share of pgflight's own SQL test corpus the parser reads.

use super::*;
use crate::plan::relations::parse;

/// A name every entry of [`DENYLIST`] matches (a pattern's `*` filled in).
fn example(pattern: &str) -> String {
    pattern.replace('*', "x")
}

fn denied(sql: &str) -> String {
    match StatementGuard::new(&[]).check(&parse(sql)) {
        Err(GuardError::Denied { function, .. }) => function.to_lowercase(),
        other => panic!("{sql}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn every_listed_function_is_refused_wherever_it_is_called() {
    for (pattern, _) in DENYLIST {
        let f = example(pattern);
        let spellings = [
            format!("SELECT {f}(1)"),
            format!("SELECT {}(1)", f.to_uppercase()),
            format!("SELECT \"{f}\"(1)"),
            format!("SELECT pg_catalog.{f}(1)"),
            format!("SELECT \"pg_catalog\".\"{f}\"(1)"),
            format!("SELECT mydb.some_schema.{f}(1)"),
            format!("SELECT coalesce(length({f}(1)::text), 0)"),
            format!("SELECT 1 FROM t WHERE id = {f}(1)"),
            format!("WITH c AS (SELECT {f}(1) AS v) SELECT * FROM c"),
            format!("SELECT * FROM (SELECT {f}(1)) AS s"),
            format!("SELECT (SELECT {f}(1))"),
            format!("SELECT 1 WHERE EXISTS (SELECT {f}(1))"),
            format!("SELECT * FROM t, LATERAL (SELECT {f}(t.id)) AS l"),
            format!("SELECT * FROM {f}('.')"),
            format!("SELECT * FROM t CROSS JOIN LATERAL {f}(t.id) AS l"),
            format!("SELECT * FROM t JOIN {f}(1) AS l ON true"),
            format!("SELECT 1 UNION ALL SELECT {f}(1)"),
            format!("SELECT CASE WHEN x THEN {f}(1) END FROM t"),
            format!("SELECT count(*) FILTER (WHERE {f}(1) IS NULL) FROM t"),
            format!("SELECT array_agg(x ORDER BY {f}(1)) FROM t"),
            format!("SELECT * FROM t ORDER BY {f}(1) LIMIT 1"),
            format!("SELECT id FROM t GROUP BY id HAVING {f}(id) IS NOT NULL"),
            format!("SELECT row_number() OVER (ORDER BY {f}(1)) FROM t"),
            format!("SELECT ARRAY[{f}(1)]"),
            format!("SELECT x FROM t WHERE x IN (SELECT {f}(1))"),
            format!("SELECT 1; SELECT {f}(1)"),
            format!("CALL {f}(1)"),
            format!("VALUES ({f}(1))"),
            format!("SELECT $1 = {f}($2)"),
        ];
        for sql in spellings {
            assert_eq!(denied(&sql), f, "{sql}");
        }
    }
}

#[test]
fn the_issues_examples_are_refused() {
    assert_eq!(
        denied("SELECT pg_read_file('/etc/hostname')"),
        "pg_read_file"
    );
    assert_eq!(denied("SELECT pg_ls_dir('.')"), "pg_ls_dir");
    assert_eq!(
        denied(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        ),
        "pg_terminate_backend"
    );
    assert_eq!(
        denied("SELECT * FROM pg_catalog.pg_ls_waldir()"),
        "pg_ls_waldir"
    );
    assert_eq!(denied("SELECT lo_import('/etc/passwd')"), "lo_import");
    assert_eq!(denied("SELECT pg_sleep_for('1 minute')"), "pg_sleep_for");
    assert_eq!(
        denied("SELECT pg_advisory_xact_lock(1)"),
        "pg_advisory_xact_lock"
    );
    assert_eq!(
        denied("SELECT query_to_xml('select pg_sleep(10)', true, true, '')"),
        "query_to_xml"
    );
    assert_eq!(
        denied("SELECT * FROM pg_create_logical_replication_slot('s', 'test_decoding')"),
        "pg_create_logical_replication_slot"
    );
}

#[test]
fn ordinary_sql_passes() {
    let guard = StatementGuard::new(&[]);
    for sql in [
        "SELECT 1",
        "SELECT * FROM lo_orders",        // a table, not a call
        "SELECT pg_sleep FROM t",         // a column
        "SELECT * FROM pg_stat_activity", // a view
        "SELECT now(), pg_backend_pid(), version(), current_setting('TimeZone')",
        "SELECT pg_size_pretty(pg_relation_size('t'))",
        "SELECT * FROM generate_series(1, 3) AS g(n)",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "SELECT sleepy(1), my_pg_sleep(1), pg_sleeper_count FROM t", // near misses
        "SELECT id::text || 'x', data->>'k', tags @> ARRAY['a'] FROM t WHERE ts > now() - interval '1 day'",
    ] {
        assert_eq!(guard.check(&parse(sql)), Ok(()), "{sql}");
    }
}

#[test]
fn deny_functions_extends_the_list() {
    let guard = StatementGuard::new(&["my_wrapper".into(), "audit_*".into()]);
    assert!(matches!(
        guard.check(&parse("SELECT public.My_Wrapper(1)")),
        Err(GuardError::Denied { .. })
    ));
    assert!(matches!(
        guard.check(&parse("SELECT * FROM t WHERE audit_log_write(id)")),
        Err(GuardError::Denied { .. })
    ));
    assert_eq!(guard.check(&parse("SELECT my_wrapper_2(1)")), Ok(()));
}

#[test]
fn unreadable_sql_is_refused() {
    let err = StatementGuard::new(&[])
        .check(&parse("SELEC 1"))
        .unwrap_err();
    assert!(matches!(err, GuardError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot check this statement"));
}

#[test]
fn globs_match_whole_names() {
    assert!(glob("pg_ls_*", "pg_ls_dir"));
    assert!(glob("pg_*replication_slot*", "pg_drop_replication_slot"));
    assert!(glob("pg_*replication_slot*", "pg_replication_slot_advance"));
    assert!(!glob("pg_*replication_slot*", "pg_replication_origin_oid"));
    assert!(glob("pg_notify", "pg_notify"));
    assert!(!glob("pg_notify", "pg_notify2"));
    assert!(!glob("lo_*", "slo_x"));
    assert!(!glob("a*a", "a"));
}

/// Every SQL statement pgflight's integration and client tests send (tests/sql_corpus.sql,
/// one statement a line): the share the parser reads is what the guard lets through.
#[test]
fn the_parser_reads_the_sql_test_corpus() {
    let corpus = include_str!("../../../tests/sql_corpus.sql");
    let statements: Vec<&str> = corpus
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .collect();
    let guard = StatementGuard::new(&[]);
    // The guard sees statements as the planner does: `?` placeholders numbered `$n`.
    let unreadable: Vec<&str> = statements
        .iter()
        .copied()
        .filter(|sql| {
            let numbered = crate::pg::placeholders::rewrite_placeholders(sql);
            matches!(
                guard.check(&parse(&numbered)),
                Err(GuardError::Unreadable { .. })
            )
        })
        .collect();
    println!(
        "sql corpus: {} of {} statements parse",
        statements.len() - unreadable.len(),
        statements.len()
    );
    assert!(
        statements.len() >= 50,
        "corpus too small: {}",
        statements.len()
    );
    assert!(unreadable.is_empty(), "unreadable: {unreadable:#?}");
}
