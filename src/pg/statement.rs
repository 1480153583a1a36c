//! Client SQL that PostgreSQL runs itself ("pass-through"): learning a statement's result and
//! parameter types by preparing it (never running it), and running a query through the same
//! binary COPY decoder as table scans, inside a read-only transaction that is always rolled
//! back, so not even a session setting a query changes survives it.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::types::{Kind, Type};

use crate::pg::copy::CopyDecoder;
use crate::pg::scan::BatchStream;
use crate::pg::types::{ColumnPlan, PgColumn, TypeOptions, plan_column};
use crate::pg::{PgConnection, PgError, PgPool};

/// Batches decoded ahead of the reader (as for scans).
const BATCHES_IN_FLIGHT: usize = 2;

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
    /// Result columns in order. Each is selected through the alias `c<n>` (see [`copy_sql`]);
    /// its Arrow field carries PostgreSQL's own column name.
    pub columns: Vec<ColumnPlan>,
    /// Parameters `$1…$n` in order.
    pub params: Vec<ParamType>,
}

/// Prepares `sql` (never runs it) and maps its result columns and parameters to Arrow.
/// Result columns carry no declared dimension count or nullability (PostgreSQL does not report
/// them for a query): arrays are one-dimensional lists and every field is nullable.
pub async fn describe(
    pool: &PgPool,
    sql: &str,
    options: &TypeOptions,
) -> Result<Described, PgError> {
    let client = pool.get().await?;
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
    let mut names = names.into_iter();
    let mut columns = Vec::new();
    for (i, column) in statement.columns().iter().enumerate() {
        let type_name = names.next().unwrap_or_default();
        let pg = pg_column(&alias(i), type_name, column.type_(), column.type_modifier());
        let mut plan = plan_column(&pg, options);
        plan.field = plan.field.with_name(column.name());
        columns.push(plan);
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

/// The COPY statement that reads `sql`'s result. When every column is decoded natively the
/// query is sent verbatim; otherwise it is wrapped so that the columns PostgreSQL must render
/// as text are cast (`SELECT c1, c2::text FROM (<sql>) AS q(c1, c2)`; positional aliases, so
/// duplicate or odd column names do not matter). Line breaks around `sql` keep a trailing
/// `--` comment from swallowing the rest.
pub fn copy_sql(sql: &str, columns: &[ColumnPlan]) -> String {
    let query = if columns.iter().any(ColumnPlan::is_text_cast) {
        let select: Vec<String> = columns.iter().map(ColumnPlan::select_expr).collect();
        let aliases: Vec<String> = (0..columns.len()).map(alias).collect();
        format!(
            "SELECT {} FROM (\n{sql}\n) AS q({})",
            select.join(", "),
            aliases.join(", ")
        )
    } else {
        format!("\n{sql}\n")
    };
    format!("COPY ({query}) TO STDOUT (FORMAT binary)")
}

/// Runs `copy` (from [`copy_sql`]) in a read-only transaction that is rolled back at the end;
/// batches of `batch_size` rows arrive as they are decoded. Dropping the stream cancels the
/// statement.
pub fn run_copy(
    pool: Arc<PgPool>,
    copy: String,
    columns: Vec<ColumnPlan>,
    batch_size: usize,
) -> BatchStream {
    let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
    tokio::spawn(async move {
        if let Err(err) = copy_in_transaction(&pool, &copy, &columns, batch_size, &tx).await {
            let _ = tx.send(Err(err)).await;
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

type BatchSender = mpsc::Sender<Result<arrow::record_batch::RecordBatch, PgError>>;

async fn copy_in_transaction(
    pool: &PgPool,
    copy: &str,
    columns: &[ColumnPlan],
    batch_size: usize,
    tx: &BatchSender,
) -> Result<(), PgError> {
    let started = std::time::Instant::now();
    let client = pool.get().await?;
    client
        .batch_execute("BEGIN READ ONLY")
        .await
        .map_err(|e| pool.error(e))?;
    tracing::debug!(sql = %copy, "query started");
    let mut decoder = CopyDecoder::new(columns, batch_size);
    let outcome: Result<bool, PgError> = async {
        // PostgreSQL sends the CopyOutResponse with the first data (an aggregate's only
        // row comes at the end), so a reader may leave before `copy_out` returns.
        let stream = tokio::select! {
            biased;
            () = tx.closed() => return Ok(false),
            stream = client.copy_out(copy) => stream.map_err(|e| pool.error(e))?,
        };
        futures::pin_mut!(stream);
        loop {
            let chunk = tokio::select! {
                biased;
                () = tx.closed() => return Ok(false),
                chunk = stream.next() => chunk,
            };
            let Some(chunk) = chunk else { break };
            decoder.push(&chunk.map_err(|e| pool.error(e))?)?;
            while let Some(batch) = decoder.next_batch()? {
                if tx.send(Ok(batch)).await.is_err() {
                    return Ok(false);
                }
            }
        }
        while let Some(batch) = decoder.finish()? {
            if tx.send(Ok(batch)).await.is_err() {
                break;
            }
        }
        Ok(true)
    }
    .await;
    if !matches!(outcome, Ok(true)) {
        pool.cancel(client.cancel_token()).await;
    }
    // Always roll back: nothing the statement did (not even set_config) outlives it. A
    // connection that cannot roll back is closed instead of going back to the pool.
    if client.batch_execute("ROLLBACK").await.is_err() {
        drop(deadpool_postgres::Object::take(client));
    }
    tracing::info!(
        rows = decoder.rows_decoded(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        completed = matches!(outcome, Ok(true)),
        "query finished"
    );
    outcome.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::types::PgColumn;

    fn column(name: &str, oid: u32) -> ColumnPlan {
        let pg = PgColumn {
            name: name.into(),
            type_name: "x".into(),
            base_oid: oid,
            typmod: -1,
            is_enum: false,
            element_oid: None,
            ndims: 0,
            nullable: true,
            schema: String::new(),
            table: String::new(),
            remarks: None,
            auto_increment: false,
        };
        plan_column(&pg, &TypeOptions::default())
    }

    #[test]
    fn native_columns_are_copied_verbatim() {
        let sql = copy_sql("SELECT 1 -- one", &[column("c1", 23)]);
        assert_eq!(sql, "COPY (\nSELECT 1 -- one\n) TO STDOUT (FORMAT binary)");
    }

    #[test]
    fn text_rendered_columns_are_cast_by_position() {
        // 869 = inet: rendered by PostgreSQL as text.
        let sql = copy_sql(
            "SELECT 1, '::1'::inet",
            &[column("c1", 23), column("c2", 869)],
        );
        assert_eq!(
            sql,
            "COPY (SELECT \"c1\", \"c2\"::text FROM (\nSELECT 1, '::1'::inet\n) AS q(c1, c2)) TO STDOUT (FORMAT binary)"
        );
    }
}
