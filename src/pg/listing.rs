//! Discovery listings for Flight SQL's GetDbSchemas and GetTables: schemas and relations
//! matched by LIKE patterns, each answer in ONE catalog query whatever the number of relations.
//!
//! Rules (README "Schema discovery"):
//! - Patterns follow Flight SQL / JDBC LIKE semantics: `%` any run of characters, `_` one
//!   character, `\` escapes the next character. They are bound as parameters to PostgreSQL's
//!   own `LIKE`, never pasted into SQL. `None` matches everything.
//! - Schemas are listed when the role has USAGE on them. System schemas (`pg_catalog`,
//!   `information_schema`, `pg_toast*`, `pg_temp_*`) are hidden unless named: shown only when a
//!   schema pattern without `%` matches them (`pg_catalog`, `information\_schema`).
//! - Relations are listed when the role has USAGE on their schema and SELECT on the relation
//!   (`has_table_privilege`, which counts ownership and grants to PUBLIC or to roles it is a
//!   member of); column-level grants alone do not list a relation.
//! - Partitions are not listed: the partitioned parent (`PARTITIONED TABLE`) stands for them.

use tokio_postgres::types::ToSql;

use crate::pg::catalog::{
    Relation, RelationKind, collect_relations, readable, relation_columns_select, relations_select,
};
use crate::pg::{PgError, PgPool};

/// Which relations GetTables lists.
#[derive(Debug, Clone, Default)]
pub struct RelationPattern {
    /// LIKE pattern on the schema name.
    pub schema_like: Option<String>,
    /// LIKE pattern on the relation name.
    pub name_like: Option<String>,
    /// Only these kinds (empty: every kind).
    pub kinds: Vec<RelationKind>,
    /// Also read each relation's columns (for GetTables `include_schema`).
    pub with_columns: bool,
}

/// Every relation kind discovery lists, in the order GetTableTypes reports them.
pub const RELATION_KINDS: [RelationKind; 5] = [
    RelationKind::Table,
    RelationKind::View,
    RelationKind::MaterializedView,
    RelationKind::PartitionedTable,
    RelationKind::ForeignTable,
];

/// Schema names the role can use that match `pattern`, in one query (a statement prepared
/// once per connection).
pub async fn schemas(pool: &PgPool, pattern: Option<&str>) -> Result<Vec<String>, PgError> {
    let client = pool.get().await?;
    let rows = pool
        .observe("catalog", async {
            let statement = client.prepare_cached(SCHEMAS_SQL).await?;
            client.query(&statement, &[&pattern]).await
        })
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Relations (and, when asked, their columns) matching `pattern`, in one query (a statement
/// prepared once per connection; without columns, one that reads no column catalog).
pub async fn relations_like(
    pool: &PgPool,
    pattern: &RelationPattern,
) -> Result<Vec<Relation>, PgError> {
    let kinds: Vec<RelationKind> = if pattern.kinds.is_empty() {
        RELATION_KINDS.to_vec()
    } else {
        pattern.kinds.clone()
    };
    let relkinds: Vec<String> = kinds.iter().map(|k| relkind(*k).to_string()).collect();
    let sql = if pattern.with_columns {
        RELATIONS_LIKE_WITH_COLUMNS_SQL
    } else {
        RELATIONS_LIKE_SQL
    };
    let client = pool.get().await?;
    let params: [&(dyn ToSql + Sync); 3] = [&relkinds, &pattern.schema_like, &pattern.name_like];
    let rows = pool
        .observe("catalog", async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, &params).await
        })
        .await?;
    Ok(collect_relations(rows))
}

/// `pg_class.relkind` of a kind.
fn relkind(kind: RelationKind) -> char {
    match kind {
        RelationKind::Table => 'r',
        RelationKind::View => 'v',
        RelationKind::MaterializedView => 'm',
        RelationKind::PartitionedTable => 'p',
        RelationKind::ForeignTable => 'f',
    }
}

/// A schema pattern "names" a system schema when it has no `%`: `pg_catalog` shows
/// `pg_catalog`, `%` or `pg%` do not.
macro_rules! visible_schema {
    ($pattern:literal) => {
        concat!(
            "(NOT (n.nspname IN ('pg_catalog', 'information_schema') ",
            "OR n.nspname LIKE 'pg\\_toast%' OR n.nspname LIKE 'pg\\_temp\\_%') ",
            "OR (",
            $pattern,
            "::text IS NOT NULL AND strpos(",
            $pattern,
            "::text, '%') = 0))"
        )
    };
}

const SCHEMAS_SQL: &str = concat!(
    "SELECT n.nspname::text FROM pg_namespace n ",
    "WHERE has_schema_privilege(n.oid, 'USAGE') ",
    "AND ($1::text IS NULL OR n.nspname LIKE $1::text) AND ",
    visible_schema!("$1"),
    " ORDER BY n.nspname"
);

/// Which relations GetTables lists: `$1` relkinds, `$2` schema pattern, `$3` name pattern.
/// The privilege rule comes last (crate::pg::catalog::READABLE), checked only for the
/// relations the patterns keep.
macro_rules! listed_relations {
    () => {
        concat!(
            "c.relkind::text = ANY($1::text[]) AND NOT c.relispartition",
            " AND ($2::text IS NULL OR n.nspname LIKE $2::text)",
            " AND ($3::text IS NULL OR c.relname LIKE $3::text) AND ",
            visible_schema!("$2"),
            " AND ",
            readable!()
        )
    };
}

/// The relations GetTables lists, without their columns.
const RELATIONS_LIKE_SQL: &str = relations_select!(listed_relations!());

/// The relations GetTables lists, with their columns (`include_schema`).
const RELATIONS_LIKE_WITH_COLUMNS_SQL: &str = relation_columns_select!(listed_relations!());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_apply_the_one_privilege_rule() {
        let readable = crate::pg::catalog::READABLE;
        assert!(RELATIONS_LIKE_SQL.contains(readable));
        assert!(RELATIONS_LIKE_WITH_COLUMNS_SQL.contains(readable));
        assert!(crate::pg::catalog::relations_sql().contains(readable));
    }
}
