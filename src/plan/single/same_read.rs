//! The read a planned statement gets from its optimized logical plan ([`logical_direct_read`],
//! GetFlightInfo's way, no physical plan) is exactly the one its physical plan gives
//! ([`direct_read`], DataFusion's full way), with the same schema and the same scan for EXPLAIN;
//! statements that are the scan alone do take the logical way; and the planner's own parse of a
//! statement, handed to DataFusion, is the statement DataFusion's parser reads.

use super::*;
use crate::config::Config;
use crate::pg::PgPool;
use crate::pg::types::{TypeOptions, arrow_schema};
use crate::plan::endpoints::PartitionOptions;

/// `lat` with a column of each kind a filter or projection meets.
fn columns() -> Vec<ReadColumn> {
    let column = |name: &str, type_name: &str, base_oid: u32, typmod: i32| ReadColumn {
        name: name.into(),
        type_name: type_name.into(),
        base_oid,
        typmod,
        is_enum: false,
        element_oid: None,
        ndims: 0,
        nullable: name != "id",
        output_name: None,
        auto_increment: false,
    };
    vec![
        column("id", "bigint", 20, -1),
        column("name", "text", 25, -1),
        column("amount", "numeric(12,2)", 1700, (12 << 16 | 2) + 4),
        column("updated_at", "timestamp with time zone", 1184, -1),
        column("ok", "boolean", 16, -1),
        column("label", "character varying(80)", 1043, 84),
        column("day", "date", 1082, -1),
        column("payload", "jsonb", 3802, -1),
        column("Mixed", "integer", 23, -1),
        ReadColumn {
            element_oid: Some(23),
            ndims: 1,
            ..column("tags", "integer[]", 1007, -1)
        },
    ]
}

/// A context whose pool never connects (planning asks PostgreSQL nothing here).
fn context() -> ReadContext {
    let pool = PgPool::new(&Config::new("127.0.0.1", 1, "none", "none")).unwrap();
    ReadContext {
        pool: Arc::new(pool),
        options: TypeOptions::default(),
        batch_size: 1000,
        default_schema: "public".into(),
        partitions: PartitionOptions {
            min_rows: 1,
            max_partitions: 1,
            snapshot_ttl: std::time::Duration::from_secs(1),
            snapshot_max_ttl: std::time::Duration::from_secs(1),
        },
        guard: None,
        settings: Vec::new(),
    }
}

/// Statements, and whether they are the scan alone (PostgreSQL answers them by itself).
const STATEMENTS: &[(&str, bool)] = &[
    ("SELECT id, name, amount FROM lat WHERE id = 42", true),
    ("SELECT * FROM lat", true),
    ("SELECT * FROM public.lat WHERE id = 1", true),
    (
        "SELECT name AS n, id FROM lat WHERE id > 5 AND amount < 10.5",
        true,
    ),
    (
        "SELECT l.id, l.\"Mixed\" FROM lat l WHERE l.name = 'x'",
        true,
    ),
    (
        "SELECT id, id AS again, tags FROM lat WHERE label <> 'a' OR ok",
        true,
    ),
    ("SELECT id FROM lat LIMIT 5", true),
    (
        "SELECT id FROM lat WHERE id IN (1, 2, 3) LIMIT 5 OFFSET 0",
        true,
    ),
    (
        "SELECT id FROM lat WHERE id BETWEEN 1 AND 9 AND name IS NOT NULL",
        true,
    ),
    (
        "SELECT updated_at, day FROM lat WHERE updated_at >= '2024-01-01 00:00:00+00'",
        true,
    ),
    (
        "SELECT day FROM lat WHERE day = '2024-02-29' AND NOT ok",
        true,
    ),
    (
        "WITH c AS (SELECT id, name FROM lat WHERE id < 10) SELECT name FROM c",
        true,
    ),
    (
        "SELECT s.id FROM (SELECT id, name FROM lat) s WHERE s.id = 3",
        true,
    ),
    ("SELECT payload FROM lat WHERE id = -7 LIMIT 1", true),
    ("SELECT id FROM lat LIMIT 5 OFFSET 2", false),
    ("SELECT id FROM lat ORDER BY id", false),
    ("SELECT id FROM lat WHERE name LIKE 'a%'", false),
    ("SELECT id FROM lat WHERE length(name) = 3", false),
    ("SELECT * FROM lat WHERE false", false),
    ("SELECT id FROM lat WHERE id = 1 OR length(name) = 2", false),
    ("SELECT id FROM lat WHERE true AND id = 42", true),
    ("SELECT id FROM lat WHERE id > 5 LIMIT 3", true),
    ("SELECT id FROM lat LIMIT 2 + 3", true),
    ("SELECT id FROM lat LIMIT 0", false),
    ("SELECT id FROM lat ORDER BY id, id DESC LIMIT 4", false),
    (
        "SELECT id FROM lat WHERE length(name) = 1 OR length(name) = 2",
        false,
    ),
    (
        "SELECT id FROM lat WHERE coalesce(amount, 0) > abs(-3) AND NOT (ok IS NULL)",
        false,
    ),
    (
        "SELECT id FROM lat WHERE name IN ('a', 'b') AND label NOT LIKE 'x%'",
        false,
    ),
];

#[tokio::test]
async fn the_logical_plan_gives_the_physical_plans_read() {
    let ctx = context();
    let options = ctx.options;
    for (sql, alone) in STATEMENTS {
        let state = one_relation::state(ctx.batch_size);
        let (statement, references) = parse(&state, sql, None).unwrap();
        // The planner's parse, handed over, is DataFusion's own.
        let parsed = crate::plan::relations::parse(sql).ok();
        assert_eq!(
            parse(&state, sql, parsed).unwrap(),
            (statement.clone(), references.clone())
        );
        let [reference] = references.as_slice() else {
            panic!("{sql}: {references:?}");
        };
        let table = Arc::new(PgTable::new(
            ctx.pool.clone(),
            "public",
            "lat",
            columns(),
            &options,
            ctx.batch_size,
        ));
        let logical =
            one_relation::logical_plan(&state, statement, reference, table.clone()).unwrap();
        assert_eq!(check_plan(&logical), Ok(()), "{sql}");
        let full = one_relation::optimize_fully(&state, logical.clone()).unwrap();
        let logical = one_relation::optimize(&state, logical).unwrap();
        assert_eq!(
            logical, full,
            "{sql}: the rules kept plan as all of DataFusion's"
        );
        let fast = logical_direct_read(&logical, &table, &options);
        let physical = physical_plan(&state, &logical).await.unwrap();
        let full = direct_read(&physical, &options);
        assert_eq!(fast.is_some(), *alone, "{sql}");
        assert_eq!(fast.as_ref().map(|d| &d.read), full.as_ref(), "{sql}");
        if let Some(direct) = fast {
            let schema = arrow_schema(&direct.read.column_plans(&options));
            assert_eq!(schema.fields(), direct.schema.fields(), "{sql}");
            assert_eq!(schema.fields(), physical.schema().fields(), "{sql}");
            assert_eq!(table.scans(), vec![direct.scan], "{sql}");
        }
    }
}

/// Through [`plan_query`] as GetFlightInfo plans, without a physical plan: EXPLAIN still shows
/// the scan once and DataFusion's physical plan.
#[tokio::test]
async fn planned_scans_explain_as_before() {
    let ctx = context();
    let sql = "SELECT name AS n, id FROM lat WHERE id = 42";
    let state = one_relation::state(ctx.batch_size);
    let (statement, references) = parse(&state, sql, None).unwrap();
    let query = PlannedQuery {
        sql: sql.into(),
        schema: "public".into(),
        table: "lat".into(),
        columns: columns(),
        snapshot: String::new(),
        range: None,
        part: 0,
    };
    let target = Target {
        state,
        statement,
        reference: references[0].clone(),
    };
    let planned = plan_query(&ctx, target, query, None, "")
        .await
        .unwrap()
        .unwrap();
    assert!(
        planned.physical.is_none(),
        "planned without a physical plan"
    );
    let lines = planned.explain_lines().await.unwrap();
    let copy = "COPY (SELECT \"id\", \"name\" FROM \"public\".\"lat\" WHERE (\"id\" = '42'::bigint)) \
                TO STDOUT (FORMAT binary)";
    assert_eq!(
        lines,
        [
            "path: planned (DataFusion over \"public\".\"lat\")".to_string(),
            "pushed filters: (\"id\" = '42'::bigint)".into(),
            "pushed limit: none".into(),
            format!("sql sent: {copy}"),
            "executed: by PostgreSQL alone (DataFusion adds nothing to the scan)".into(),
            "endpoints: several when the relation is large (ranges read in one snapshot)".into(),
            "DataFusion plan:".into(),
            "  ProjectionExec: expr=[name@1 as n, id@0 as id]".into(),
            "    CooperativeExec".into(),
            format!("      PgScanExec: {copy}"),
        ]
    );
    assert_eq!(planned.schema().field(0).name(), "n");
}
