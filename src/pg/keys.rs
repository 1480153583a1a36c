//! Primary keys and foreign keys from `pg_constraint`, for Flight SQL's GetPrimaryKeys,
//! GetImportedKeys, GetExportedKeys and GetCrossReference. Each answer is one catalog query;
//! composite keys come out column by column in key order (`key_sequence` from 1).
//!
//! Only relations the role may SELECT (with USAGE on their schema) are described, and a
//! foreign key only when both of its ends are. Partitions are not described: constraints
//! that a partition inherits from its parent (`conparentid <> 0`) are left out, the parent's
//! constraint stands for them.
//!
//! The queries are prepared once per connection (`prepare_cached`), their values bound.

use tokio_postgres::types::ToSql;

use crate::pg::{PgError, PgPool};

/// One column of a primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKeyColumn {
    /// Schema of the table.
    pub schema: String,
    /// The table.
    pub table: String,
    /// The key column.
    pub column: String,
    /// The constraint's name.
    pub key_name: String,
    /// Position of the column in the key, from 1.
    pub key_sequence: i32,
}

/// What a foreign key does when the referenced row is updated or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferentialAction {
    /// `CASCADE`.
    Cascade,
    /// `RESTRICT`.
    Restrict,
    /// `SET NULL`.
    SetNull,
    /// `NO ACTION` (PostgreSQL's default).
    NoAction,
    /// `SET DEFAULT`.
    SetDefault,
}

impl ReferentialAction {
    /// From `pg_constraint.confupdtype` / `confdeltype`.
    fn from_code(code: i8) -> ReferentialAction {
        match code as u8 {
            b'c' => ReferentialAction::Cascade,
            b'r' => ReferentialAction::Restrict,
            b'n' => ReferentialAction::SetNull,
            b'd' => ReferentialAction::SetDefault,
            _ => ReferentialAction::NoAction,
        }
    }
}

/// One column pair of a foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyColumn {
    /// Schema of the referenced (primary key) table.
    pub pk_schema: String,
    /// The referenced table.
    pub pk_table: String,
    /// The referenced column.
    pub pk_column: String,
    /// Schema of the referencing (foreign key) table.
    pub fk_schema: String,
    /// The referencing table.
    pub fk_table: String,
    /// The referencing column.
    pub fk_column: String,
    /// Position of the pair in the key, from 1.
    pub key_sequence: i32,
    /// The foreign key constraint's name.
    pub fk_key_name: String,
    /// The referenced primary key or unique constraint (or unique index) name.
    pub pk_key_name: Option<String>,
    /// `ON UPDATE`.
    pub update_rule: ReferentialAction,
    /// `ON DELETE`.
    pub delete_rule: ReferentialAction,
}

/// Which foreign keys to read: each `Some` narrows by an exact name.
#[derive(Debug, Clone, Default)]
pub struct ForeignKeyFilter {
    /// Schema of the referenced table.
    pub pk_schema: Option<String>,
    /// The referenced table.
    pub pk_table: Option<String>,
    /// Schema of the referencing table.
    pub fk_schema: Option<String>,
    /// The referencing table.
    pub fk_table: Option<String>,
}

/// The primary key columns of `table` (in `schema`, or in any schema when `None`), in one
/// query, ordered by schema, table, key name and key sequence.
pub async fn primary_keys(
    pool: &PgPool,
    schema: Option<&str>,
    table: &str,
) -> Result<Vec<PrimaryKeyColumn>, PgError> {
    let client = pool.get().await?;
    let rows = pool
        .observe("catalog", async {
            let statement = client.prepare_cached(PRIMARY_KEYS_SQL).await?;
            client.query(&statement, &[&schema, &table]).await
        })
        .await?;
    Ok(rows
        .iter()
        .map(|row| PrimaryKeyColumn {
            schema: row.get("schema"),
            table: row.get("table"),
            column: row.get("column"),
            key_name: row.get("key_name"),
            key_sequence: row.get("key_sequence"),
        })
        .collect())
}

/// Foreign key column pairs matching `filter`, in one query, ordered by the referencing
/// table, the constraint name and key sequence.
pub async fn foreign_keys(
    pool: &PgPool,
    filter: &ForeignKeyFilter,
) -> Result<Vec<ForeignKeyColumn>, PgError> {
    let client = pool.get().await?;
    let params: [&(dyn ToSql + Sync); 4] = [
        &filter.pk_schema,
        &filter.pk_table,
        &filter.fk_schema,
        &filter.fk_table,
    ];
    let rows = pool
        .observe("catalog", async {
            let statement = client.prepare_cached(foreign_keys_sql(filter)).await?;
            client.query(&statement, &params).await
        })
        .await?;
    Ok(rows
        .iter()
        .map(|row| ForeignKeyColumn {
            pk_schema: row.get("pk_schema"),
            pk_table: row.get("pk_table"),
            pk_column: row.get("pk_column"),
            fk_schema: row.get("fk_schema"),
            fk_table: row.get("fk_table"),
            fk_column: row.get("fk_column"),
            key_sequence: row.get("key_sequence"),
            fk_key_name: row.get("fk_key_name"),
            pk_key_name: row.get("pk_key_name"),
            update_rule: ReferentialAction::from_code(row.get("update_rule")),
            delete_rule: ReferentialAction::from_code(row.get("delete_rule")),
        })
        .collect())
}

/// `$1` schema (or NULL), `$2` table.
const PRIMARY_KEYS_SQL: &str = r#"
SELECT n.nspname::text AS schema, c.relname::text AS table, a.attname::text AS column,
       k.conname::text AS key_name, u.ord::int4 AS key_sequence
  FROM pg_constraint k
  CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum
 WHERE k.contype = 'p' AND k.conparentid = 0 AND NOT c.relispartition
   AND c.relname = $2::text AND ($1::text IS NULL OR n.nspname = $1::text)
   AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
 ORDER BY n.nspname, c.relname, k.conname, u.ord
"#;

/// The foreign key query for `filter`: one whose plan starts from the named table (by the
/// index on `pg_class.relname`), so that PostgreSQL's generic plan of the prepared statement
/// stays as cheap as a custom one instead of reading every foreign key in the database.
fn foreign_keys_sql(filter: &ForeignKeyFilter) -> &'static str {
    match (&filter.fk_table, &filter.pk_table) {
        (Some(_), _) => FOREIGN_KEYS_OF_REFERENCING_SQL,
        (None, Some(_)) => FOREIGN_KEYS_OF_REFERENCED_SQL,
        (None, None) => FOREIGN_KEYS_SQL,
    }
}

/// Foreign key column pairs: `$1` pk schema, `$2` pk table, `$3` fk schema, `$4` fk table, NULL
/// matching any, except in `$tables`, the SQL condition on the two tables. Column and key names
/// come from scalar subqueries, not joins: five relations to join keep PostgreSQL's planning
/// short (ten took it longer than running the query).
macro_rules! foreign_keys_select {
    ($tables:literal) => {
        concat!(
            r#"
SELECT pn.nspname::text AS pk_schema, pc.relname::text AS pk_table,
       (SELECT a.attname FROM pg_attribute a
         WHERE a.attrelid = k.confrelid AND a.attnum = u.pk_attnum)::text AS pk_column,
       fn.nspname::text AS fk_schema, fc.relname::text AS fk_table,
       (SELECT a.attname FROM pg_attribute a
         WHERE a.attrelid = k.conrelid AND a.attnum = u.fk_attnum)::text AS fk_column,
       u.ord::int4 AS key_sequence, k.conname::text AS fk_key_name,
       coalesce((SELECT pk.conname FROM pg_constraint pk
                  WHERE pk.conrelid = k.confrelid AND pk.conindid = k.conindid
                    AND pk.contype IN ('p', 'u')),
                (SELECT i.relname FROM pg_class i WHERE i.oid = k.conindid))::text AS pk_key_name,
       k.confupdtype AS update_rule, k.confdeltype AS delete_rule
  FROM pg_constraint k
  JOIN pg_class fc ON fc.oid = k.conrelid
  JOIN pg_namespace fn ON fn.oid = fc.relnamespace
  JOIN pg_class pc ON pc.oid = k.confrelid
  JOIN pg_namespace pn ON pn.oid = pc.relnamespace
  CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY AS u(fk_attnum, pk_attnum, ord)
 WHERE k.contype = 'f' AND k.conparentid = 0
   AND NOT fc.relispartition AND NOT pc.relispartition
   AND ($1::text IS NULL OR pn.nspname = $1::text) AND ($3::text IS NULL OR fn.nspname = $3::text)
   AND "#,
            $tables,
            r#"
   AND has_schema_privilege(fn.oid, 'USAGE') AND has_table_privilege(fc.oid, 'SELECT')
   AND has_schema_privilege(pn.oid, 'USAGE') AND has_table_privilege(pc.oid, 'SELECT')
 ORDER BY fn.nspname, fc.relname, k.conname, u.ord
"#
        )
    };
}

/// The foreign keys of a named (referencing) table (GetImportedKeys, GetCrossReference).
const FOREIGN_KEYS_OF_REFERENCING_SQL: &str =
    foreign_keys_select!("fc.relname = $4::text AND ($2::text IS NULL OR pc.relname = $2::text)");

/// The foreign keys that reference a named table (GetExportedKeys).
const FOREIGN_KEYS_OF_REFERENCED_SQL: &str =
    foreign_keys_select!("pc.relname = $2::text AND ($4::text IS NULL OR fc.relname = $4::text)");

/// Every foreign key (no table named).
const FOREIGN_KEYS_SQL: &str = foreign_keys_select!(
    "($2::text IS NULL OR pc.relname = $2::text) AND ($4::text IS NULL OR fc.relname = $4::text)"
);
