//! Flight SQL statements and prepared statements: decode the command, ask the planner, encode
//! the answer. A prepared statement's handle carries the SQL text and its bound values
//! ([`PreparedHandle`]); its execution's tickets are read plans like every other.

use arrow::datatypes::Schema;
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, DoPutPreparedStatementResult,
};
use arrow_flight::{IpcMessage, SchemaAsIpc};
use futures::{StreamExt, TryStreamExt};
use tonic::Status;

use crate::flight::refusal::Refusal;
use crate::flight::signing::Sealer;
use crate::flight::status::{arrow_status, plan_status, refusal_status};
use crate::flight::ticket::PreparedHandle;
use crate::plan::command::Command;
use crate::plan::params::value_text;
use crate::plan::planner::Planner;

pub use crate::flight::refusal::READ_ONLY;

/// The command of a prepared statement's handle (opened for the caller it was sealed for).
pub fn prepared_command(sealer: &Sealer, sealed: &[u8]) -> Result<Command, Status> {
    let handle = PreparedHandle::open(sealer, sealed)?;
    let params = handle.param_rows();
    match handle.described {
        Some(statement) => Ok(Command::Described { statement, params }),
        None => Command::from_sql(&handle.sql, params).map_err(|e| plan_status(&e)),
    }
}

/// ActionCreatePreparedStatementRequest: the handle, the exact dataset schema and the
/// parameter schema.
pub async fn create_prepared(
    planner: &Planner,
    sealer: &Sealer,
    request: ActionCreatePreparedStatementRequest,
) -> Result<ActionCreatePreparedStatementResult, Status> {
    if request.transaction_id.is_some() {
        return Err(refusal_status(&Refusal::Transaction));
    }
    let command = Command::from_sql(&request.query, Vec::new()).map_err(|e| plan_status(&e))?;
    let prepared = planner
        .prepare(&command)
        .await
        .map_err(|e| plan_status(&e))?;
    Ok(ActionCreatePreparedStatementResult {
        prepared_statement_handle: PreparedHandle::new(&request.query)
            .with_described(prepared.described)
            .seal(sealer)
            .into(),
        dataset_schema: schema_bytes(&prepared.schema)?,
        parameter_schema: schema_bytes(&prepared.parameter_schema)?,
    })
}

/// ActionClosePreparedStatementRequest: nothing is held, so only the handle is checked.
pub fn close_prepared(
    sealer: &Sealer,
    request: ActionClosePreparedStatementRequest,
) -> Result<(), Status> {
    PreparedHandle::open(sealer, &request.prepared_statement_handle).map(|_| ())
}

/// DoPut of parameter batches: every row is one execution. Answers a new handle carrying the
/// values (the old one stays valid and unbound).
pub async fn bind(
    planner: &Planner,
    sealer: &Sealer,
    sealed: &[u8],
    stream: PeekableFlightDataStream,
) -> Result<DoPutPreparedStatementResult, Status> {
    let handle = PreparedHandle::open(sealer, sealed)?;
    let expected = match &handle.described {
        Some(described) => described.param_types.len(),
        None => {
            let command =
                Command::from_sql(&handle.sql, Vec::new()).map_err(|e| plan_status(&e))?;
            let prepared = planner
                .prepare(&command)
                .await
                .map_err(|e| plan_status(&e))?;
            prepared.parameter_schema.fields().len()
        }
    };
    let mut batches = FlightRecordBatchStream::new_from_flight_data(
        stream.map_err(|s| FlightError::Tonic(Box::new(s))),
    );
    let mut rows = Vec::new();
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(|e| refusal_status(&Refusal::Parameters(e)))?;
        if batch.num_columns() != expected {
            let bound = batch.num_columns();
            return Err(refusal_status(&Refusal::ParameterCount { bound, expected }));
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
        prepared_statement_handle: Some(bound.seal(sealer).into()),
    })
}

/// The status for every write command (updates, ingestion).
pub fn refuse_write(what: &'static str) -> Status {
    refusal_status(&Refusal::Write { what })
}

/// The status for Substrait plans and transactions.
pub fn refuse_unsupported(what: &'static str) -> Status {
    refusal_status(&Refusal::Unsupported { what })
}

fn schema_bytes(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: arrow::error::ArrowError| arrow_status(&e))?;
    Ok(bytes)
}
