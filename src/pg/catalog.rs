//! Discovery from `pg_catalog`: relations (tables, views, materialized views, partitioned and
//! foreign tables) and their columns, with domains resolved to their base types, in one query
//! whatever the number of relations.

use tokio_postgres::types::ToSql;

use crate::pg::catalog_cache;
use crate::pg::types::PgColumn;
use crate::pg::{PgError, PgPool};

/// What kind of relation PostgreSQL says it is (`pg_class.relkind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// `r`: an ordinary table.
    Table,
    /// `v`: a view.
    View,
    /// `m`: a materialized view.
    MaterializedView,
    /// `p`: a partitioned table.
    PartitionedTable,
    /// `f`: a foreign table.
    ForeignTable,
}

impl RelationKind {
    fn from_relkind(kind: i8) -> Option<RelationKind> {
        Some(match kind as u8 {
            b'r' => RelationKind::Table,
            b'v' => RelationKind::View,
            b'm' => RelationKind::MaterializedView,
            b'p' => RelationKind::PartitionedTable,
            b'f' => RelationKind::ForeignTable,
            _ => return None,
        })
    }

    /// The Flight SQL / JDBC table type name.
    pub fn table_type(self) -> &'static str {
        match self {
            RelationKind::Table => "TABLE",
            RelationKind::View => "VIEW",
            RelationKind::MaterializedView => "MATERIALIZED VIEW",
            RelationKind::PartitionedTable => "PARTITIONED TABLE",
            RelationKind::ForeignTable => "FOREIGN TABLE",
        }
    }
}

/// A relation and its columns.
#[derive(Debug, Clone)]
pub struct Relation {
    /// `pg_class.oid`.
    pub oid: u32,
    /// Schema name.
    pub schema: String,
    /// Relation name.
    pub name: String,
    /// Table, view, …
    pub kind: RelationKind,
    /// PostgreSQL's row estimate (`reltuples`; -1 when never analysed, then `None`; for a
    /// partitioned table that PostgreSQL 12/13 left at 0, the sum of its leaf partitions').
    pub estimated_rows: Option<i64>,
    /// Columns in attribute order.
    pub columns: Vec<PgColumn>,
}

/// Which relations a catalog query returns.
#[derive(Debug, Clone, Default)]
pub struct RelationFilter {
    /// Exactly this schema (`None`: every schema except the system ones).
    pub schema: Option<String>,
    /// Exactly this relation name.
    pub name: Option<String>,
}

/// The one privilege rule for relations (ListFlights, GetTables, GetFlightInfo, and so the
/// tickets DoGet runs): a relation exists for a role when the role has USAGE on its schema and
/// SELECT on the relation (`has_table_privilege`: ownership, grants to it, to PUBLIC or to a
/// role it is a member of). Any other relation is NOT_FOUND, exactly like one that does not
/// exist, so no request tells the two apart or returns its schema. SQL `c` is `pg_class`, `n`
/// its `pg_namespace`.
///
/// Written as a CASE over both `c` and `n`: PostgreSQL then checks it after the join, once per
/// candidate relation, instead of calling `has_table_privilege` for every row of `pg_class`
/// (system catalogs, indexes, sequences; about a microsecond each).
pub const READABLE: &str = readable!();

/// Relations the role may read ([`READABLE`]) and their columns, in one round trip.
/// Partitions are left out (their parent stands for them); system schemas only when named.
pub async fn relations(pool: &PgPool, filter: &RelationFilter) -> Result<Vec<Relation>, PgError> {
    let client = pool.get().await?;
    let params: [&(dyn ToSql + Sync); 2] = [&filter.schema, &filter.name];
    let rows = pool
        .observe("catalog", async {
            let statement = client.prepare_cached(RELATIONS_SQL).await?;
            client.query(&statement, &params).await
        })
        .await?;
    Ok(collect_relations(rows))
}

/// Groups rows of a relation/column query (one row per column, relations in order) into
/// relations with their columns.
pub(crate) fn collect_relations(rows: Vec<tokio_postgres::Row>) -> Vec<Relation> {
    let mut relations: Vec<Relation> = Vec::new();
    for row in rows {
        let oid: u32 = row.get("rel_oid");
        let Some(kind) = RelationKind::from_relkind(row.get("relkind")) else {
            continue;
        };
        if relations.last().map(|r| r.oid) != Some(oid) {
            let reltuples: f32 = row.get("reltuples");
            relations.push(Relation {
                oid,
                schema: row.get("nspname"),
                name: row.get("relname"),
                kind,
                estimated_rows: (reltuples >= 0.0).then_some(reltuples as i64),
                columns: Vec::new(),
            });
        }
        let Some(name) = row.get::<_, Option<String>>("attname") else {
            continue; // a relation without columns
        };
        let relation = relations.last_mut().expect("pushed above");
        relation.columns.push(PgColumn {
            name,
            type_name: row.get("type_name"),
            base_oid: row.get("base_oid"),
            typmod: row.get("base_typmod"),
            is_enum: row.get("is_enum"),
            element_oid: row.get("element_oid"),
            ndims: row.get("attndims"),
            nullable: !row.get::<_, bool>("attnotnull"),
            schema: relation.schema.clone(),
            table: relation.name.clone(),
            remarks: row.get("remarks"),
            auto_increment: row.get("auto_increment"),
        });
    }
    relations
}

/// Finds the relation an extraction request names. `entity` is `name`, `schema.name`, or
/// either part double-quoted (`"Sales Ops"."Targets"`); unqualified names are looked up in
/// `default_schema`. An unquoted part matches a relation spelled exactly so, and otherwise its
/// lower-case form (PostgreSQL's folding).
pub async fn resolve_entity(
    pool: &PgPool,
    entity: &str,
    default_schema: &str,
) -> Result<Option<Relation>, EntityError> {
    let (schema, name) = match parse_entity(entity)? {
        (Some(schema), name) => (schema, name),
        (None, name) => (Ident::quoted(default_schema), name),
    };
    let mut candidates = Vec::new();
    for schema_name in schema.candidates() {
        for relation_name in name.candidates() {
            candidates.push((schema_name.clone(), relation_name));
        }
    }
    Ok(catalog_cache::resolve_exact(pool, &candidates).await?)
}

/// The relation PostgreSQL itself would read for `schema.name`, or for `name` along
/// `search_path` (the client session's; `None`: the role's own), names exact, as a SQL parser
/// has already folded them; `None` unless the role may read it ([`READABLE`]). Through the
/// catalog cache: one check query, and the full catalog query only for a relation new or
/// changed since it was cached.
pub async fn lookup_relation(
    pool: &PgPool,
    search_path: Option<&str>,
    schema: Option<&str>,
    name: &str,
) -> Result<Option<Relation>, PgError> {
    let names = [(schema.map(str::to_string), name.to_string())];
    let checked = catalog_cache::check_names(pool, search_path, &names).await?;
    match checked.first() {
        Some(checked) => catalog_cache::relation_of(pool, checked).await,
        None => Ok(None),
    }
}

/// The catalog query of [`relations`], for tests that check it applies [`READABLE`].
#[cfg(test)]
pub(crate) fn relations_sql() -> &'static str {
    RELATIONS_SQL
}

/// Why an entity could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    /// The entity text is not a (schema-qualified) relation name.
    #[error(
        "entity {entity:?} is not a relation name: {problem} (expected name, schema.name, or \"Quoted Name\")"
    )]
    Malformed {
        /// The text as sent.
        entity: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// PostgreSQL failed.
    #[error(transparent)]
    Pg(#[from] PgError),
}

/// One part of a dotted name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ident {
    text: String,
    quoted: bool,
}

impl Ident {
    fn quoted(text: &str) -> Ident {
        Ident {
            text: text.to_string(),
            quoted: true,
        }
    }

    /// Spellings to try: exact; for unquoted parts also the lower-case fold.
    fn candidates(&self) -> Vec<String> {
        let mut names = vec![self.text.clone()];
        let folded = self.text.to_lowercase();
        if !self.quoted && folded != self.text {
            names.push(folded);
        }
        names
    }
}

/// Splits `entity` on dots outside double quotes into (schema, name); `""` inside quotes is a
/// quote.
fn parse_entity(entity: &str) -> Result<(Option<Ident>, Ident), EntityError> {
    let malformed = |problem| EntityError::Malformed {
        entity: entity.to_string(),
        problem,
    };
    let mut parts = Vec::new();
    let mut chars = entity.trim().chars().peekable();
    loop {
        let mut text = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        text.push('"');
                    }
                    Some('"') => break,
                    Some(c) => text.push(c),
                    None => return Err(malformed("unterminated double quote")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if c == '"' {
                    return Err(malformed("a double quote inside an unquoted name"));
                }
                text.push(c);
                chars.next();
            }
        }
        if text.is_empty() {
            return Err(malformed("an empty name"));
        }
        if text.contains('\0') {
            return Err(malformed("a NUL character"));
        }
        parts.push(Ident { text, quoted });
        match chars.next() {
            None => break,
            Some('.') => continue,
            Some(_) => return Err(malformed("text after a closing quote")),
        }
    }
    let name = parts.pop().ok_or_else(|| malformed("an empty name"))?;
    let schema = parts.pop();
    if !parts.is_empty() {
        return Err(malformed("more than two dotted parts"));
    }
    Ok((schema, name))
}

/// The text of [`READABLE`], for `concat!`.
macro_rules! readable {
    () => {
        "CASE WHEN has_schema_privilege(n.oid, 'USAGE') THEN has_table_privilege(c.oid, 'SELECT') \
         ELSE false END"
    };
}
pub(crate) use readable;

/// PostgreSQL's row estimate of relation `c` as SQL (a `real`, -1 when never analysed). Before
/// PostgreSQL 14, ANALYZE leaves a partitioned table's own reltuples at 0: its estimate is then
/// the sum of its analysed leaf partitions'.
macro_rules! reltuples_estimate {
    () => {
        r#"CASE WHEN c.relkind = 'p' AND c.reltuples <= 0
            THEN coalesce((SELECT sum(pc.reltuples) FILTER (WHERE pc.reltuples >= 0)
                             FROM pg_partition_tree(c.oid) pt
                             JOIN pg_class pc ON pc.oid = pt.relid
                            WHERE pt.isleaf), c.reltuples)::real
            ELSE c.reltuples END"#
    };
}
pub(crate) use reltuples_estimate;

/// The fields of a relation (SQL `c` is `pg_class`, `n` its `pg_namespace`) that
/// `collect_relations` reads, names still of type `name` so that they sort as PostgreSQL's
/// catalogs do (byte order).
macro_rules! relation_fields {
    () => {
        concat!(
            "c.oid AS rel_oid, n.nspname, c.relname, c.relkind, ",
            $crate::pg::catalog::reltuples_estimate!(),
            " AS reltuples"
        )
    };
}
pub(crate) use relation_fields;

/// A relation query without columns (`collect_relations` reads it; `attname` is NULL): the
/// relations of `pg_class c JOIN pg_namespace n` that `$relation_where` keeps, in schema and
/// name order. `$extra_columns` (optional) is SQL text appended to the select list (starting
/// with a comma; `c` and `n` in scope).
macro_rules! relations_select {
    ($relation_where:expr) => {
        $crate::pg::catalog::relations_select!($relation_where, "")
    };
    ($relation_where:expr, $extra_columns:expr) => {
        concat!(
            "SELECT ",
            $crate::pg::catalog::relation_fields!(),
            $extra_columns,
            ", NULL::text AS attname\n  FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid\n WHERE ",
            $relation_where,
            "\n ORDER BY n.nspname, c.relname, c.oid"
        )
    };
}
pub(crate) use relations_select;

/// A relation/column query (one row per column; `collect_relations` reads it): the relations
/// of `pg_class c JOIN pg_namespace n` that `$relation_where` keeps, with their columns; domains
/// resolved (nested domains too) to the base type and the first type modifier found on the
/// way down; array element types resolved likewise (an array of a domain over
/// `numeric(10,2)` takes the domain's modifier, as its scalar does). Optional:
/// `$relation_columns`, SQL text appended to the relations' select list (`c` and `n` in scope),
/// and `$extra_columns`, appended to the outer one (`r` the relation, `a` the column), each
/// starting with a comma.
///
/// Shaped for PostgreSQL's planner, whose estimates for catalog joins are far too small (it
/// expects a dozen columns where there are hundreds):
/// - the relations are filtered and sorted first, then their columns joined in attribute
///   order, so that PostgreSQL sorts the columns relation by relation (an incremental sort)
///   instead of sorting every column row with the rest;
/// - each column costs few lookups: its type by index; the domain chain only for a domain
///   (the `typtype = 'd'` test gates the lateral subquery; `domain_base`, which carries the base
///   type's fields, is not even computed when no column needs it); the element type only for a
///   type that has one; the default's expression only when `atthasdef` says there is one. The
///   `OFFSET 0` laterals keep those gates (and keep PostgreSQL from hashing all of `pg_type`
///   against the column rows, which also lost their order).
macro_rules! relation_columns_select {
    ($relation_where:expr) => {
        $crate::pg::catalog::relation_columns_select!($relation_where, "", "")
    };
    ($relation_where:expr, $relation_columns:expr, $extra_columns:expr) => {
        concat!(
            r#"
WITH RECURSIVE domain_chain(domain_oid, base_oid, typmod) AS (
    SELECT t.oid, t.typbasetype, t.typtypmod FROM pg_type t WHERE t.typtype = 'd'
  UNION ALL
    SELECT d.domain_oid, t.typbasetype,
           CASE WHEN d.typmod <> -1 THEN d.typmod ELSE t.typtypmod END
      FROM domain_chain d JOIN pg_type t ON t.oid = d.base_oid
     WHERE t.typtype = 'd'
),
domain_base AS (
    SELECT d.domain_oid, d.base_oid, d.typmod, t.typtype, t.typcategory, t.typelem
      FROM domain_chain d JOIN pg_type t ON t.oid = d.base_oid
     WHERE t.typtype <> 'd'
)
SELECT r.rel_oid, r.nspname::text AS nspname, r.relname::text AS relname, r.relkind,
       r.reltuples,
       a.attname::text AS attname,
       format_type(a.atttypid, a.atttypmod) AS type_name,
       bt.oid AS base_oid,
       CASE WHEN a.atttypmod <> -1 THEN a.atttypmod
            WHEN coalesce(db.typmod, -1) <> -1 THEN db.typmod
            ELSE coalesce(edb.typmod, -1) END AS base_typmod,
       (bt.typtype = 'e' OR coalesce(et.typtype = 'e', false)) AS is_enum,
       CASE WHEN bt.typcategory = 'A' AND bt.typelem <> 0 THEN et.oid END AS element_oid,
       coalesce(a.attndims, 0)::int4 AS attndims,
       coalesce(a.attnotnull, false) AS attnotnull,
       -- A join, not col_description(): before PostgreSQL 14 that is a SQL function, run
       -- (and counted as a statement) once per column.
       dsc.description AS remarks,
       coalesce(a.attidentity <> ''
                OR CASE WHEN a.atthasdef
                        THEN (SELECT pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%'
                                FROM pg_attrdef ad
                               WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum) END,
                false) AS auto_increment"#,
            $extra_columns,
            r#"
  FROM ("#,
            $crate::pg::catalog::relations_select!($relation_where, $relation_columns),
            r#") r
  LEFT JOIN pg_attribute a ON a.attrelid = r.rel_oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_description dsc ON dsc.objoid = r.rel_oid AND dsc.objsubid = a.attnum
       AND dsc.classoid = 'pg_class'::regclass
  LEFT JOIN pg_type at ON at.oid = a.atttypid
  LEFT JOIN LATERAL (SELECT d.base_oid, d.typmod, d.typtype, d.typcategory, d.typelem
                       FROM domain_base d
                      WHERE at.typtype = 'd' AND d.domain_oid = at.oid OFFSET 0) db ON true
  CROSS JOIN LATERAL (SELECT coalesce(db.base_oid, at.oid) AS oid,
                             coalesce(db.typtype, at.typtype) AS typtype,
                             coalesce(db.typcategory, at.typcategory) AS typcategory,
                             coalesce(db.typelem, at.typelem) AS typelem) bt
  LEFT JOIN LATERAL (SELECT t.oid, t.typtype FROM pg_type t
                      WHERE bt.typelem <> 0 AND t.oid = bt.typelem OFFSET 0) e ON true
  LEFT JOIN LATERAL (SELECT d.base_oid, d.typmod, d.typtype FROM domain_base d
                      WHERE e.typtype = 'd' AND d.domain_oid = e.oid OFFSET 0) edb ON true
  CROSS JOIN LATERAL (SELECT coalesce(edb.base_oid, e.oid) AS oid,
                             coalesce(edb.typtype, e.typtype) AS typtype) et
 ORDER BY r.nspname, r.relname, r.rel_oid, a.attnum
"#
        )
    };
}
pub(crate) use relation_columns_select;

/// Relations with their columns (see [`relation_columns_select`]), by exact names.
const RELATIONS_SQL: &str = relation_columns_select!(concat!(
    r#"c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND NOT c.relispartition
   AND ($1::text IS NULL AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
        OR n.nspname = $1::text)
   AND ($2::text IS NULL OR c.relname = $2::text)
   AND "#,
    readable!()
));

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(entity: &str) -> Vec<(String, bool)> {
        let (schema, name) = parse_entity(entity).unwrap();
        schema
            .into_iter()
            .chain([name])
            .map(|i| (i.text, i.quoted))
            .collect()
    }

    #[test]
    fn entities_parse_like_postgresql_names() {
        assert_eq!(texts("users"), vec![("users".into(), false)]);
        assert_eq!(
            texts("app.users"),
            vec![("app".into(), false), ("users".into(), false)]
        );
        assert_eq!(
            texts(r#""Sales Ops"."Tar""gets""#),
            vec![("Sales Ops".into(), true), ("Tar\"gets".into(), true)]
        );
        assert_eq!(texts(r#""a.b""#), vec![("a.b".into(), true)]);
    }

    #[test]
    fn malformed_entities_are_refused() {
        for bad in ["", "a..b", "a.b.c", "\"open", "a\"b", "\"x\"y", ".a", "a."] {
            assert!(parse_entity(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn unquoted_names_also_try_the_lower_case_fold() {
        let ident = Ident {
            text: "Users".into(),
            quoted: false,
        };
        assert_eq!(
            ident.candidates(),
            vec!["Users".to_string(), "users".to_string()]
        );
        assert_eq!(
            Ident::quoted("Users").candidates(),
            vec!["Users".to_string()]
        );
    }
}
