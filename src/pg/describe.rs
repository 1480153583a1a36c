//! Client SQL that PostgreSQL runs itself ("pass-through"): its result and parameter types,
//! learned by preparing it (never running it). [`crate::pg::source`] runs it.

use tokio_postgres::types::{Kind, Type};

use crate::pg::read::ReadColumn;
use crate::pg::types::{ColumnPlan, PgColumn, TypeOptions, plan_column};
use crate::pg::{PgConnection, PgError, PgPool};

/// One `$n` parameter of a prepared statement, as PostgreSQL inferred it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamType {
    /// The type as `format_type()` prints it; valid SQL type syntax (`timestamp with time zone`).
    pub sql_type: String,
    /// How a value of this type is read back (its Arrow field, named `$n`).
    pub column: ColumnPlan,
}

/// What preparing a statement taught: its result columns and its parameters.
#[derive(Debug, Clone)]
pub struct Described {
    /// Result columns in order. Each is selected through the alias `c<n>`
    /// ([`crate::pg::render::statement_copy`]); its Arrow field carries PostgreSQL's own name.
    pub columns: Vec<ReadColumn>,
    /// Parameters `$1…$n` in order.
    pub params: Vec<ParamType>,
}

/// Prepares `sql` (never runs it) on `search_path` (the client session's; `None`: the role's
/// own) and maps its result columns and parameters to Arrow.
/// Result columns carry no declared dimension count or nullability (PostgreSQL does not report
/// them for a query): arrays are one-dimensional lists and every field is nullable.
pub async fn describe(
    pool: &PgPool,
    search_path: Option<&str>,
    sql: &str,
    options: &TypeOptions,
) -> Result<Described, PgError> {
    let client = pool.get_on_path(search_path).await?;
    let statement = client.prepare(sql).await.map_err(|e| pool.error(e))?;
    let mut oids: Vec<u32> = Vec::new();
    let mut typmods: Vec<i32> = Vec::new();
    for column in statement.columns() {
        oids.push(column.type_().oid());
        typmods.push(column.type_modifier());
    }
    for param in statement.params() {
        oids.push(param.oid());
        typmods.push(-1);
    }
    let names = type_names(&client, pool, &oids, &typmods).await?;
    client.finish().await;
    let mut names = names.into_iter();
    let mut columns = Vec::new();
    for (i, column) in statement.columns().iter().enumerate() {
        let type_name = names.next().unwrap_or_default();
        let pg = pg_column(&alias(i), type_name, column.type_(), column.type_modifier());
        let mut read = ReadColumn::of(&pg);
        read.output_name = Some(column.name().to_string());
        columns.push(read);
    }
    let mut params = Vec::new();
    for (i, param) in statement.params().iter().enumerate() {
        let sql_type = names.next().unwrap_or_default();
        let pg = pg_column(&format!("${}", i + 1), sql_type.clone(), param, -1);
        params.push(ParamType {
            sql_type,
            column: plan_column(&pg, options),
        });
    }
    Ok(Described { columns, params })
}

/// The alias under which result column `i` (0-based) is selected.
fn alias(i: usize) -> String {
    format!("c{}", i + 1)
}

/// `format_type(oid, typmod)` for every pair, in one round trip.
async fn type_names(
    client: &PgConnection,
    pool: &PgPool,
    oids: &[u32],
    typmods: &[i32],
) -> Result<Vec<String>, PgError> {
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT format_type(t, NULLIF(m, -1)) FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS u(t, m, n) ORDER BY n",
            &[&oids, &typmods],
        )
        .await
        .map_err(|e| pool.error(e))?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// A result column described as a [`PgColumn`] (domains are already resolved by PostgreSQL in a
/// row description).
fn pg_column(name: &str, type_name: String, ty: &Type, typmod: i32) -> PgColumn {
    let (element_oid, is_enum) = match ty.kind() {
        Kind::Array(element) => (Some(base_oid(element)), is_enum(element)),
        _ => (None, is_enum(ty)),
    };
    PgColumn {
        name: name.to_string(),
        type_name,
        base_oid: base_oid(ty),
        typmod,
        is_enum,
        element_oid,
        ndims: 0,
        nullable: true,
        schema: String::new(),
        table: String::new(),
        remarks: None,
        auto_increment: false,
    }
}

fn base_oid(ty: &Type) -> u32 {
    match ty.kind() {
        Kind::Domain(base) => base_oid(base),
        _ => ty.oid(),
    }
}

fn is_enum(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Enum(_) => true,
        Kind::Domain(base) => is_enum(base),
        _ => false,
    }
}
