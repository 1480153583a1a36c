//! Flight SQL statements and prepared statements: decode the command, ask `plan::query`,
//! encode the answer. Handles are stateless: a statement's ticket and a prepared statement's
//! handle are a [`QueryHandle`] carrying the SQL text (and bound parameter values), planned
//! again from scratch wherever it arrives, so any instance can serve it and nothing is held for
//! clients that never close.

use arrow::datatypes::Schema;
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandPreparedStatementQuery, CommandStatementQuery,
    DoPutPreparedStatementResult,
};
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc};
use futures::{StreamExt, TryStreamExt};
use tonic::Status;

use crate::flight::PgFlightSqlService;
use crate::flight::signing::Sealer;
use crate::flight::status::{plan_status, ticket_status};
use crate::flight::ticket::QueryHandle;
use crate::plan::endpoints::SplitRead;
use crate::plan::params::value_text;
use crate::plan::query::{self, SqlContext, StatementPlan};

type DoGetStream = <PgFlightSqlService as FlightService>::DoGetStream;

/// The words for everything that would write.
pub const READ_ONLY: &str = "pgflight is read-only";

/// GetFlightInfo for CommandStatementQuery: plans (never runs) and answers the exact schema.
pub async fn statement_info(
    ctx: &SqlContext,
    sealer: &Sealer,
    command: CommandStatementQuery,
    descriptor: FlightDescriptor,
) -> Result<FlightInfo, Status> {
    let plan = plan(ctx, &command.query).await?;
    let read = split(ctx, &plan).await?;
    flight_info(&plan, sealer, QueryHandle::new(&plan.sql), descriptor, read)
}

/// GetFlightInfo for a prepared statement (with whatever parameters were bound).
pub async fn prepared_info(
    ctx: &SqlContext,
    sealer: &Sealer,
    command: CommandPreparedStatementQuery,
    descriptor: FlightDescriptor,
) -> Result<FlightInfo, Status> {
    let handle = open(sealer, &command.prepared_statement_handle)?;
    let plan = plan(ctx, &handle.sql).await?;
    let read = split(ctx, &plan).await?;
    flight_info(&plan, sealer, handle, descriptor, read)
}

/// ActionCreatePreparedStatementRequest: the handle, the exact dataset schema and the
/// parameter schema.
pub async fn create_prepared(
    ctx: &SqlContext,
    sealer: &Sealer,
    request: ActionCreatePreparedStatementRequest,
) -> Result<ActionCreatePreparedStatementResult, Status> {
    if request.transaction_id.is_some() {
        return Err(Status::unimplemented(format!(
            "{READ_ONLY} and offers no transactions"
        )));
    }
    let plan = plan(ctx, &request.query).await?;
    Ok(ActionCreatePreparedStatementResult {
        prepared_statement_handle: sealer
            .seal(prost::Message::encode_to_vec(&QueryHandle::new(&plan.sql)))
            .into(),
        dataset_schema: schema_bytes(&plan.schema)?,
        parameter_schema: schema_bytes(&plan.parameter_schema())?,
    })
}

/// ActionClosePreparedStatementRequest: nothing is held, so only the handle is checked.
pub fn close_prepared(
    sealer: &Sealer,
    request: ActionClosePreparedStatementRequest,
) -> Result<(), Status> {
    open(sealer, &request.prepared_statement_handle).map(|_| ())
}

/// DoPut of parameter batches: every row is one execution. Answers a new handle carrying the
/// values (the old one stays valid and unbound).
pub async fn bind(
    ctx: &SqlContext,
    sealer: &Sealer,
    command: CommandPreparedStatementQuery,
    stream: PeekableFlightDataStream,
) -> Result<DoPutPreparedStatementResult, Status> {
    let handle = open(sealer, &command.prepared_statement_handle)?;
    let plan = plan(ctx, &handle.sql).await?;
    let mut batches = FlightRecordBatchStream::new_from_flight_data(
        stream.map_err(|s| FlightError::Tonic(Box::new(s))),
    );
    let mut rows = Vec::new();
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(|e| Status::invalid_argument(format!("parameters: {e}")))?;
        if batch.num_columns() != plan.params.len() {
            return Err(Status::invalid_argument(format!(
                "{} parameter column(s) bound; the statement has {} parameter(s)",
                batch.num_columns(),
                plan.params.len()
            )));
        }
        for row in 0..batch.num_rows() {
            let values = batch
                .columns()
                .iter()
                .map(|column| value_text(column, row))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| plan_status(&e))?;
            rows.push(values);
        }
    }
    let bound = handle.with_params(rows);
    Ok(DoPutPreparedStatementResult {
        prepared_statement_handle: Some(sealer.seal(prost::Message::encode_to_vec(&bound)).into()),
    })
}

/// DoGet of a statement ticket: plans the SQL again (restricted to the endpoint's range when
/// the read was split) and runs it.
pub async fn run(ctx: &SqlContext, handle: QueryHandle) -> Result<DoGetStream, Status> {
    let range = handle.endpoint_range().map_err(Status::invalid_argument)?;
    let plan = query::plan_endpoint(ctx, &handle.sql, range.as_ref())
        .await
        .map_err(|e| plan_status(&e))?;
    let schema = plan.schema.clone();
    let batches = query::execute(ctx, plan, handle.param_rows())
        .map_err(|e| plan_status(&e))?
        .map_err(|e| FlightError::Tonic(Box::new(plan_status(&e))));
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(batches)
        .map_err(Status::from);
    Ok(Box::pin(stream))
}

/// The status for every write command (updates, ingestion).
pub fn refuse_write(what: &str) -> Status {
    Status::permission_denied(format!("{READ_ONLY}: {what} is refused; only queries run"))
}

/// The status for Substrait plans and transactions.
pub fn refuse_unsupported(what: &str) -> Status {
    Status::unimplemented(format!(
        "{what} is not supported: {READ_ONLY}; send SQL queries (each runs in its own read-only transaction)"
    ))
}

async fn plan(ctx: &SqlContext, sql: &str) -> Result<StatementPlan, Status> {
    query::plan(ctx, sql).await.map_err(|e| plan_status(&e))
}

/// The SQL text of a prepared statement's handle (opened for the caller it was sealed for).
pub fn prepared_sql(sealer: &Sealer, sealed: &[u8]) -> Result<String, Status> {
    open(sealer, sealed).map(|handle| handle.sql)
}

/// A prepared statement's handle, opened for the caller it was sealed for.
fn open(sealer: &Sealer, sealed: &[u8]) -> Result<QueryHandle, Status> {
    let bytes = sealer.open(sealed).map_err(|e| ticket_status(&e))?;
    QueryHandle::decode_handle(&bytes).map_err(Status::invalid_argument)
}

async fn split(ctx: &SqlContext, plan: &StatementPlan) -> Result<Option<SplitRead>, Status> {
    query::split(ctx, plan).await.map_err(|e| plan_status(&e))
}

/// The FlightInfo of a planned statement: exact schema, one endpoint (or one per range of a
/// split read), PostgreSQL's row estimate where the statement reads every row of a relation.
fn flight_info(
    plan: &StatementPlan,
    sealer: &Sealer,
    handle: QueryHandle,
    descriptor: FlightDescriptor,
    read: Option<SplitRead>,
) -> Result<FlightInfo, Status> {
    let handles = match &read {
        Some(read) => read
            .endpoints()
            .iter()
            .map(|range| handle.clone().with_range(range))
            .collect(),
        None => vec![handle],
    };
    let mut info = FlightInfo::new()
        .try_with_schema(plan.schema.as_ref())
        .map_err(|e| Status::internal(e.to_string()))?
        .with_descriptor(descriptor)
        .with_total_records(plan.estimated_rows().unwrap_or(-1))
        .with_ordered(read.is_none());
    for handle in handles {
        let ticket = sealer.ticket(prost::Message::encode_to_vec(&handle));
        info = info.with_endpoint(FlightEndpoint::new().with_ticket(ticket));
    }
    Ok(info)
}

fn schema_bytes(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
    Ok(bytes)
}
