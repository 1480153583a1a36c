//! Reads: planning extraction descriptors, ListFlights, SQL statements and prepared statements'
//! executions into FlightInfo (one sealed ticket per endpoint), and DoGet streaming a ticket's
//! batches.

use arrow::datatypes::Schema;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::{
    CommandPreparedStatementQuery, CommandStatementQuery, TicketStatementQuery,
};
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use futures::TryStreamExt;
use tonic::{Request, Response, Status};

use super::PgFlightSqlService;
use crate::flight::audit::{AuditRecord, command_subject, plan_subject};
use crate::flight::auth::{Identity, identity_of};
use crate::flight::cancel;
use crate::flight::compression;
use crate::flight::deadline;
use crate::flight::renew;
use crate::flight::session_cookie::{SessionState, session_of};
use crate::flight::signing::Sealer;
use crate::flight::statements;
use crate::flight::status::{arrow_status, flight_status, plan_status, refusal_status};
use crate::flight::ticket::{open_plan, plan_ticket};
use crate::plan::command::Command;
use crate::plan::planner::{Planned, Planner};
use crate::plan::relations::fingerprint;

impl PgFlightSqlService {
    /// Plans an extraction descriptor: a path `[schema, table]` or the seed's JSON request.
    async fn plan_extraction(
        &self,
        planner: &Planner,
        descriptor: &FlightDescriptor,
    ) -> Result<Planned, Status> {
        let command = match descriptor.r#type() {
            DescriptorType::Path => Command::Path(descriptor.path.clone()),
            _ => Command::from_json(&descriptor.cmd).map_err(|e| plan_status(&e))?,
        };
        planner.plan(&command).await.map_err(|e| plan_status(&e))
    }

    /// GetFlightInfo for an extraction descriptor planned in `session`, its tickets sealed
    /// for `identity`.
    pub async fn extraction_info(
        &self,
        descriptor: FlightDescriptor,
        identity: &Identity,
        session: &SessionState,
    ) -> Result<FlightInfo, Status> {
        let planner = self.session_planner(session);
        let planned = self.plan_extraction(&planner, &descriptor).await?;
        self.flight_info(planned, descriptor, identity)
    }

    /// GetSchema for an extraction descriptor planned in `session`.
    pub async fn extraction_schema(
        &self,
        descriptor: &FlightDescriptor,
        session: &SessionState,
    ) -> Result<Schema, Status> {
        let planner = self.session_planner(session);
        let planned = self.plan_extraction(&planner, descriptor).await?;
        Ok(planned.schema.as_ref().clone())
    }

    /// ListFlights: every relation the role can read, as a path descriptor with its schema.
    pub async fn list_relations(&self, identity: &Identity) -> Result<Vec<FlightInfo>, Status> {
        let listed = self.planner.list().await.map_err(|e| plan_status(&e))?;
        listed
            .into_iter()
            .map(|(path, planned)| {
                self.flight_info(planned, FlightDescriptor::new_path(path), identity)
            })
            .collect()
    }

    /// The FlightInfo of a planned command: exact schema, one endpoint per read plan (each
    /// sealed for `identity`), PostgreSQL's row estimate, the next cursor for incremental reads.
    fn flight_info(
        &self,
        planned: Planned,
        descriptor: FlightDescriptor,
        identity: &Identity,
    ) -> Result<FlightInfo, Status> {
        let sealer = Sealer::new(self.signer.clone(), identity.0.clone());
        let query_id = cancel::new_query_id()?;
        let mut info = FlightInfo::new()
            .try_with_schema(planned.schema.as_ref())
            .map_err(|e| arrow_status(&e))?
            .with_descriptor(descriptor)
            .with_total_records(planned.estimated_rows.unwrap_or(-1))
            .with_ordered(planned.ordered);
        if let Some(cursor) = planned.app_metadata {
            info = info.with_app_metadata(cursor.into_bytes());
        }
        let count = planned.endpoints.len();
        for (index, plan) in planned.endpoints.into_iter().enumerate() {
            let plan = plan.in_query(&query_id);
            let mut endpoint = FlightEndpoint::new().with_ticket(plan_ticket(&sealer, &plan));
            // A split read's endpoints live as long as their shared snapshot is held.
            if let Some(expires) = plan
                .snapshot()
                .and_then(|s| self.planner.snapshot_expiry(s))
            {
                endpoint = endpoint.with_expiration_time(renew::timestamp(expires));
            }
            info = info.with_endpoint(self.advertised.place(endpoint, index, count));
        }
        Ok(info)
    }

    /// GetFlightInfo for a SQL command (a statement or a prepared statement's execution)
    /// asked by the caller of `request`.
    async fn command_info(
        &self,
        command: Command,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let identity = identity_of(&request);
        let planner = self.planner(&request);
        let planned = planner.plan(&command).await.map_err(|e| plan_status(&e))?;
        let info = self.flight_info(planned, request.into_inner(), &identity)?;
        Ok(Response::new(info))
    }

    /// GetFlightInfo for a SQL statement.
    pub(super) async fn statement_info(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        if let Some(record) = AuditRecord::of(&request) {
            record.set_subject(fingerprint(&query.query));
        }
        let command = Command::from_sql(&query.query, Vec::new()).map_err(|e| plan_status(&e))?;
        self.command_info(command, request).await
    }

    /// GetFlightInfo for an execution of a prepared statement (its handle opened for the
    /// caller it was sealed for).
    pub(super) async fn prepared_info(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let command =
            statements::prepared_command(&self.sealer(&request), &query.prepared_statement_handle)?;
        if let Some(record) = AuditRecord::of(&request) {
            record.set_subject(command_subject(&command));
        }
        self.command_info(command, request).await
    }

    /// DoGet of a sealed ticket: runs its read plan and streams the batches, compressed if the
    /// client asked, within the call's deadline.
    pub(super) async fn read_ticket(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let plan = open_plan(&self.sealer(&request), &ticket.statement_handle)?;
        let compression = compression::requested(request.metadata(), &session_of(&request))
            .map_err(|e| refusal_status(&e))?;
        let timeout =
            deadline::statement_timeout(request.metadata(), self.config.statement_timeout);
        let record = AuditRecord::of(&request);
        if let Some(record) = &record {
            record.set_subject(plan_subject(&plan));
        }
        let (schema, batches) = self
            .planner(&request)
            .execute(plan, timeout)
            .await
            .map_err(|e| plan_status(&e))?;
        let batches = batches
            .inspect_ok(move |batch| {
                if let Some(record) = &record {
                    record.add_rows(batch.num_rows());
                }
            })
            .map_err(|e| FlightError::Tonic(Box::new(plan_status(&e))));
        let stream = FlightDataEncoderBuilder::new()
            .with_options(compression::write_options(compression).map_err(|e| arrow_status(&e))?)
            .with_schema(schema)
            .build(batches)
            .map_err(|e| flight_status(&e));
        Ok(Response::new(Box::pin(stream)))
    }
}
