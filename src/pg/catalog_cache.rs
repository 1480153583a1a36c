//! The catalog cache: a relation's columns, types and kind, kept between plans so that planning
//! a read of a known relation asks PostgreSQL one cheap question instead of the full catalog
//! query — and never answers from a stale entry.
//!
//! # The rule that keeps it fresh
//!
//! Every plan sends one **check** query (never skipped, never timed): for each relation it
//! names, resolved by name exactly as before (the session's `search_path`, or exact names for
//! extraction), PostgreSQL answers its oid, the role's privileges on it, its row estimate and a
//! **change marker**: the `xmin` of its `pg_class` row, of its `pg_attribute` (attnum > 0),
//! `pg_attrdef` and column `pg_description` rows, and of the `pg_type` rows of its columns'
//! types. Every DDL that changes what the cache holds writes a new version of one of those rows,
//! with a new transaction id: ADD COLUMN (new attribute row, and `relnatts` in `pg_class`), DROP
//! COLUMN (`attisdropped`), ALTER COLUMN TYPE, SET/DROP NOT NULL, RENAME COLUMN, RENAME
//! (pg_class), SET DEFAULT, COMMENT ON COLUMN, and a column type's `ALTER TYPE … RENAME` (the
//! type name in the field metadata) or `ALTER DOMAIN` (its `pg_type` row).
//! DROP and CREATE under the same name gives a new oid; a new relation has no entry. An entry
//! is used only when both oid and marker are equal to what PostgreSQL just answered; otherwise
//! the relation is fetched again (one query, its marker read in the same statement, so the
//! entry stored never claims to be newer than its columns) and replaces the entry. Privileges
//! are never cached: they come live with the check (GRANT/REVOKE take effect at once), and so
//! does the row estimate (ANALYZE updates `pg_class` in place, without a new `xmin`). A frozen
//! `xmin` (VACUUM FREEZE) only changes the marker, costing one extra fetch.
//!
//! The check and fetch queries are prepared once per connection (`prepare_cached`): a check is
//! one round trip, and PostgreSQL does not parse it again. Up to [`LISTED_NAMES`] names travel
//! as a `VALUES` list of parameters (one statement per count), so that PostgreSQL keeps a
//! generic plan after its first executions instead of planning the check every time (planning
//! it cost more than running it); more names travel as two arrays, `unnest`ed, planned at each
//! execution (a generic plan of `unnest` looks a hundred times dearer to PostgreSQL).
//!
//! Each pool has its own cache (one pool per PostgreSQL role), bounded to [`MAX_ENTRIES`]
//! relations; an entry unused for [`IDLE_FOR`] is forgotten.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::pg::catalog::{
    Relation, collect_relations, relation_columns_select, reltuples_estimate,
};
use crate::pg::{PgConnection, PgError, PgPool};

/// At most this many relations are cached per pool (the least recently used go first).
pub const MAX_ENTRIES: usize = 2048;

/// An entry unused for this long is forgotten.
pub const IDLE_FOR: Duration = Duration::from_secs(600);

/// The change marker of relation `c` as SQL text (see the module documentation).
macro_rules! change_marker {
    () => {
        r#"c.xmin::text
   || ':' || coalesce((SELECT string_agg(ma.xmin::text, ',' ORDER BY ma.attnum)
                         FROM pg_attribute ma WHERE ma.attrelid = c.oid AND ma.attnum > 0), '')
   || ':' || coalesce((SELECT string_agg(md.xmin::text, ',' ORDER BY md.adnum)
                         FROM pg_attrdef md WHERE md.adrelid = c.oid), '')
   || ':' || coalesce((SELECT string_agg(mc.xmin::text, ',' ORDER BY mc.objsubid)
                         FROM pg_description mc
                        WHERE mc.objoid = c.oid AND mc.classoid = 'pg_class'::regclass), '')
   || ':' || coalesce((SELECT string_agg(mt.xmin::text, ',' ORDER BY ta.attnum)
                         FROM pg_attribute ta JOIN pg_type mt ON mt.oid = ta.atttypid
                        WHERE ta.attrelid = c.oid AND ta.attnum > 0), '')"#
    };
}

/// What the one check query says of a relation a request names.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The schema as named (`None`: resolved along the search path).
    pub schema: Option<String>,
    /// The name as named.
    pub name: String,
    /// The relation's oid, when the name resolves.
    pub oid: Option<u32>,
    /// SQL's privilege rule: the relation exists but the role may read neither it nor any of
    /// its columns (or has no USAGE on the schema named).
    pub unreadable: bool,
    /// Extraction's privilege rule ([`crate::pg::catalog::READABLE`]), and a kind pgflight
    /// reads (table, view, materialized view, partitioned or foreign table; not a partition).
    pub readable: bool,
    /// PostgreSQL's row estimate now (-1: never analysed).
    estimate: Option<f32>,
    /// The change marker now.
    marker: Option<String>,
}

impl Checked {
    /// The name as the request wrote it (`schema.name` or `name`).
    pub fn named(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }

    fn of(row: &Row, names: &[(Option<String>, String)]) -> Checked {
        let index = usize::try_from(row.get::<_, i64>("i") - 1).unwrap_or(0);
        let (schema, name) = names[index].clone();
        Checked {
            schema,
            name,
            oid: row.get("rel_oid"),
            unreadable: row.get::<_, Option<bool>>("unreadable").unwrap_or(false),
            readable: row.get::<_, Option<bool>>("readable").unwrap_or(false),
            estimate: row.get("reltuples"),
            marker: row.get("marker"),
        }
    }
}

/// Cached relations of one pool, by oid, with the marker they were read at.
#[derive(Default)]
pub struct CatalogCache {
    entries: Mutex<HashMap<u32, Entry>>,
}

struct Entry {
    marker: String,
    relation: Relation,
    last_used: Instant,
}

impl CatalogCache {
    /// An empty cache.
    pub fn new() -> CatalogCache {
        CatalogCache::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached relation `oid` if it was read at `marker`; an entry at another marker is
    /// dropped.
    fn get(&self, oid: u32, marker: &str) -> Option<Relation> {
        let mut entries = self.lock();
        match entries.get_mut(&oid) {
            Some(entry) if entry.marker == marker => {
                entry.last_used = Instant::now();
                Some(entry.relation.clone())
            }
            Some(_) => {
                entries.remove(&oid);
                None
            }
            None => None,
        }
    }

    fn put(&self, marker: String, relation: Relation) {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| now.duration_since(e.last_used) < IDLE_FOR);
        if entries.len() >= MAX_ENTRIES
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(oid, _)| *oid)
        {
            entries.remove(&oldest);
        }
        entries.insert(
            relation.oid,
            Entry {
                marker,
                relation,
                last_used: now,
            },
        );
    }
}

/// What both check queries answer of relation `c` besides `i` and `unreadable`: its oid,
/// whether extraction may read it, its row estimate now and its change marker.
macro_rules! checked_columns {
    () => {
        concat!(
            r#"c.oid AS rel_oid,
       (c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
        AND has_schema_privilege(c.relnamespace, 'USAGE')
        AND has_table_privilege(c.oid, 'SELECT')) AS readable,
       "#,
            reltuples_estimate!(),
            " AS reltuples, ",
            change_marker!(),
            " AS marker"
        )
    };
}

/// At most this many names are checked by a `VALUES` list of parameters (see the module
/// documentation); more by arrays.
pub const LISTED_NAMES: usize = 16;

/// What the check query for names a SQL statement uses answers of each (resolved as
/// PostgreSQL would, along the connection's `search_path`), one row per name in order; the
/// names are `q(s, r, i)` ([`check_sql`]).
const CHECK_NAMES_SELECT: &str = concat!(
    r#"
SELECT q.i AS i,
       CASE WHEN q.s IS NOT NULL AND n.nsp IS NULL THEN false
            WHEN q.s IS NOT NULL AND NOT has_schema_privilege(n.nsp, 'USAGE') THEN true
            WHEN x.o IS NULL THEN false
            ELSE NOT has_table_privilege(x.o, 'SELECT')
                 AND NOT has_any_column_privilege(x.o, 'SELECT')
       END AS unreadable,
       "#,
    checked_columns!()
);

const CHECK_NAMES_JOIN: &str = r#"
  CROSS JOIN LATERAL (SELECT to_regnamespace(quote_ident(q.s)) AS nsp) n
  CROSS JOIN LATERAL (
       SELECT CASE WHEN q.s IS NULL THEN to_regclass(quote_ident(q.r))
                   WHEN n.nsp IS NOT NULL AND has_schema_privilege(n.nsp, 'USAGE')
                   THEN to_regclass(quote_ident(q.s) || '.' || quote_ident(q.r))
              END AS o) x
  LEFT JOIN pg_class c ON c.oid = x.o
 ORDER BY q.i"#;

/// What the check query for exact `(schema, name)` pairs (extraction requests, path
/// descriptors) answers: one row per pair that names a relation, in order.
const CHECK_EXACT_SELECT: &str = concat!(
    r#"
SELECT q.i AS i,
       false AS unreadable,
       "#,
    checked_columns!()
);

const CHECK_EXACT_JOIN: &str = r#"
  JOIN pg_namespace n ON n.nspname = q.s
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = q.r
 ORDER BY q.i"#;

/// The check query `select … FROM <names> join` for `count` names: up to [`LISTED_NAMES`]
/// names are a `VALUES` list `($1, $2, 1), ($3, $4, 2), …` of (schema, name, position), more
/// are two array parameters (schemas, names) unnested with their position.
fn check_sql(select: &str, join: &str, count: usize) -> String {
    let names = if count <= LISTED_NAMES {
        let rows: Vec<String> = (0..count)
            .map(|i| {
                format!(
                    "(${}::text, ${}::text, {}::bigint)",
                    2 * i + 1,
                    2 * i + 2,
                    i + 1
                )
            })
            .collect();
        format!("(VALUES {}) AS q(s, r, i)", rows.join(", "))
    } else {
        "unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(s, r, i)".to_string()
    };
    format!("{select}\n  FROM {names}{join}")
}

/// Runs the check query `select`/`join` for `names` on `client`: its rows, in the names' order.
async fn run_check(
    pool: &PgPool,
    client: &PgConnection,
    (select, join): (&str, &str),
    names: &[(Option<String>, String)],
) -> Result<Vec<Row>, PgError> {
    let sql = check_sql(select, join, names.len());
    pool.observe("catalog", async {
        let statement = client.prepare_cached(&sql).await?;
        if names.len() <= LISTED_NAMES {
            let params: Vec<&(dyn ToSql + Sync)> = names
                .iter()
                .flat_map(|(s, r)| [s as &(dyn ToSql + Sync), r as &(dyn ToSql + Sync)])
                .collect();
            client.query(&statement, &params).await
        } else {
            let schemas: Vec<Option<&str>> = names.iter().map(|(s, _)| s.as_deref()).collect();
            let relations: Vec<&str> = names.iter().map(|(_, r)| r.as_str()).collect();
            client.query(&statement, &[&schemas, &relations]).await
        }
    })
    .await
}

/// Relations with their columns by oid, each with its change marker (computed once per
/// relation, on each of its rows), read in one statement so that the marker is the one of the
/// columns read.
const FETCH_SQL: &str = relation_columns_select!(
    "c.oid = ANY($1::oid[])",
    concat!(", ", change_marker!(), " AS marker"),
    ", r.marker"
);

/// Checks the relations a SQL statement names (`(schema, name)` as PostgreSQL folded them; no
/// schema: along `search_path`, the client session's, or the role's own): one query.
pub async fn check_names(
    pool: &PgPool,
    search_path: Option<&str>,
    names: &[(Option<String>, String)],
) -> Result<Vec<Checked>, PgError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let client = pool.get_on_path(search_path).await?;
    let checked = (CHECK_NAMES_SELECT, CHECK_NAMES_JOIN);
    let rows = run_check(pool, &client, checked, names).await?;
    client.finish().await;
    Ok(rows.iter().map(|row| Checked::of(row, names)).collect())
}

/// The first of `candidates` (exact `(schema, name)` pairs, in order of preference) that names
/// a relation the role may read, with its columns: one check query, and a fetch only when the
/// cache has no entry at the marker PostgreSQL answered.
pub async fn resolve_exact(
    pool: &PgPool,
    candidates: &[(String, String)],
) -> Result<Option<Relation>, PgError> {
    if candidates.is_empty() {
        return Ok(None);
    }
    let names: Vec<(Option<String>, String)> = candidates
        .iter()
        .map(|(s, r)| (Some(s.clone()), r.clone()))
        .collect();
    let client = pool.get().await?;
    let rows = run_check(
        pool,
        &client,
        (CHECK_EXACT_SELECT, CHECK_EXACT_JOIN),
        &names,
    )
    .await?;
    drop(client);
    let found = rows
        .iter()
        .map(|row| Checked::of(row, &names))
        .find(|checked| checked.readable);
    match found {
        Some(checked) => relation_of(pool, &checked).await,
        None => Ok(None),
    }
}

/// The relation `checked` found, with its columns, when the role may read it (extraction's
/// rule, [`Checked::readable`]): from the cache when its entry was read at the marker just
/// checked, otherwise fetched (one query) and cached. Its row estimate is the one just checked.
pub async fn relation_of(pool: &PgPool, checked: &Checked) -> Result<Option<Relation>, PgError> {
    let (Some(oid), Some(marker), true) = (checked.oid, &checked.marker, checked.readable) else {
        return Ok(None);
    };
    let cache = pool.catalog_cache();
    let relation = match cache.get(oid, marker) {
        Some(relation) => relation,
        None => {
            let Some((marker, relation)) = fetch(pool, oid).await? else {
                return Ok(None);
            };
            cache.put(marker, relation.clone());
            relation
        }
    };
    Ok(Some(Relation {
        estimated_rows: checked.estimate.filter(|e| *e >= 0.0).map(|e| e as i64),
        ..relation
    }))
}

/// Relation `oid` with its columns and its change marker, read in one statement.
async fn fetch(pool: &PgPool, oid: u32) -> Result<Option<(String, Relation)>, PgError> {
    let client = pool.get().await?;
    let rows = pool
        .observe("catalog", async {
            let statement = client.prepare_cached(FETCH_SQL).await?;
            client.query(&statement, &[&vec![oid]]).await
        })
        .await?;
    drop(client);
    let marker: Option<String> = rows.iter().find_map(|row| row.get("marker"));
    let relation = collect_relations(rows).into_iter().next();
    Ok(marker.zip(relation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::catalog::RelationKind;

    fn relation(oid: u32) -> Relation {
        Relation {
            oid,
            schema: "public".into(),
            name: format!("t{oid}"),
            kind: RelationKind::Table,
            estimated_rows: None,
            columns: Vec::new(),
        }
    }

    #[test]
    fn an_entry_serves_only_its_own_marker() {
        let cache = CatalogCache::new();
        cache.put("1:2".into(), relation(7));
        assert!(cache.get(7, "1:2").is_some());
        assert!(cache.get(7, "1:3").is_none());
        // A different marker drops the entry: even the old marker no longer finds it.
        assert!(cache.get(7, "1:2").is_none());
        assert!(cache.get(8, "1:2").is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = CatalogCache::new();
        for oid in 0..(MAX_ENTRIES as u32 + 10) {
            cache.put("m".into(), relation(oid));
        }
        assert_eq!(cache.lock().len(), MAX_ENTRIES);
    }

    #[test]
    fn the_check_queries_read_privileges_live() {
        for sql in [CHECK_NAMES_SELECT, CHECK_EXACT_SELECT] {
            assert!(sql.contains("has_table_privilege(c.oid, 'SELECT')"));
            assert!(sql.contains("pg_attribute ma"));
        }
        assert!(FETCH_SQL.contains("AS marker"));
    }

    #[test]
    fn few_names_are_parameters_many_are_arrays() {
        let sql = check_sql(CHECK_NAMES_SELECT, CHECK_NAMES_JOIN, 2);
        assert!(sql.contains(
            "FROM (VALUES ($1::text, $2::text, 1::bigint), ($3::text, $4::text, 2::bigint)) \
             AS q(s, r, i)"
        ));
        assert!(sql.ends_with("ORDER BY q.i"));
        let sql = check_sql(CHECK_EXACT_SELECT, CHECK_EXACT_JOIN, LISTED_NAMES + 1);
        assert!(sql.contains("FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(s, r, i)"));
    }
}
