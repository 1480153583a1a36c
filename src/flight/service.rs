//! The Flight SQL service: decodes requests, asks the room that knows, encodes the answer.
//! No SQL strings and no catalog queries live here. The handlers that take more than a call
//! live by job in `service/`: reads (FlightInfo and DoGet of planned reads), GetSqlInfo and
//! GetXdbcTypeInfo, and the actions beyond prepared statements.

mod actions;
mod reads;
mod sql_info;

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::Action;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionCancelQueryRequest, ActionCancelQueryResult,
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, ActionCreatePreparedSubstraitPlanRequest,
    CommandGetCatalogs, CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys,
    CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    ActionType, FlightDescriptor, FlightInfo, HandshakeRequest, HandshakeResponse, Ticket,
};
use futures::{Stream, StreamExt};
use tokio::sync::OnceCell;
use tonic::{Request, Response, Status, Streaming};

use crate::config::{ArrayFormat, AuthMode, Config, NumericNan};
use crate::flight::audit::AuditRecord;
use crate::flight::auth::{Identity, identity_of};
use crate::flight::discovery;
use crate::flight::locations::Advertised;
use crate::flight::session::SessionChecks;
use crate::flight::session_cookie::{SessionState, session_of};
use crate::flight::signing::{HandleSigner, Sealer};
use crate::flight::statements;
use crate::pg::PgPool;
use crate::pg::server_facts::ServerFacts;
use crate::pg::types::TypeOptions;
use crate::plan::context::ReadContext;
use crate::plan::endpoints::PartitionOptions;
use crate::plan::guard::StatementGuard;
use crate::plan::planner::Planner;
use crate::plan::relations::fingerprint;

/// pgflight's Flight SQL service over one PostgreSQL pool.
pub struct PgFlightSqlService {
    pool: Arc<PgPool>,
    config: Arc<Config>,
    signer: Arc<HandleSigner>,
    planner: Planner,
    server_facts: OnceCell<ServerFacts>,
    advertised: Advertised,
}

impl PgFlightSqlService {
    /// A service answering from `pool`, configured by `config`, sealing tickets with `signer`.
    pub fn new(pool: Arc<PgPool>, config: Arc<Config>, signer: Arc<HandleSigner>) -> Self {
        let options = TypeOptions {
            numeric_nan_as_null: config.numeric_nan == NumericNan::Null,
            arrays_as_json: config.arrays == ArrayFormat::Json,
        };
        let planner = Planner::new(ReadContext {
            pool: pool.clone(),
            options,
            batch_size: config.batch_size,
            default_schema: config.schema.clone(),
            partitions: PartitionOptions {
                min_rows: config.partition_min_rows,
                max_partitions: config.max_partitions,
                snapshot_ttl: config.snapshot_ttl,
                snapshot_max_ttl: config.snapshot_max_ttl,
            },
            // Clients share the configured role unless each logs in as its own.
            guard: (config.auth != AuthMode::Postgres)
                .then(|| Arc::new(StatementGuard::new(&config.deny_functions))),
            settings: Vec::new(),
        });
        PgFlightSqlService {
            advertised: Advertised::new(config.advertise.clone()),
            pool,
            config,
            signer,
            planner,
            server_facts: OnceCell::new(),
        }
    }

    /// The pool this service reads through.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The configuration this service runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What checking session options needs.
    pub fn session_checks(&self) -> SessionChecks<'_> {
        SessionChecks {
            pool: &self.pool,
            database: &self.config.database,
            schema: &self.config.schema,
            statement_timeout: self.config.statement_timeout,
        }
    }

    /// The planner for a client with `session`.
    fn session_planner(&self, session: &SessionState) -> Planner {
        self.planner.with_session(&session.read_session())
    }

    /// The planner for the client of `request` (its session's options applied).
    fn planner<T>(&self, request: &Request<T>) -> Planner {
        self.session_planner(&session_of(request))
    }

    /// Seals and opens handles for the caller of `request`.
    fn sealer<T>(&self, request: &Request<T>) -> Sealer {
        self.sealer_for(&identity_of(request))
    }

    /// Seals and opens handles for `identity`.
    pub fn sealer_for(&self, identity: &Identity) -> Sealer {
        Sealer::new(self.signer.clone(), identity.0.clone())
    }
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl FlightSqlService for PgFlightSqlService {
    type FlightService = PgFlightSqlService;

    /// The credentials were checked (and the bearer token added) by the gateway; the payload
    /// is echoed back, as Flight's basic handshake expects.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<ResponseStream<HandshakeResponse>>, Status> {
        let mut incoming = request.into_inner();
        let first = incoming.next().await.transpose()?;
        let payload = first.map(|r| r.payload).unwrap_or_default();
        let response = HandshakeResponse {
            protocol_version: 0,
            payload,
        };
        let stream = futures::stream::once(async move { Ok(response) });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.sql_info_info(query, request.into_inner()).await
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.sql_info_stream(query).await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.read_ticket(ticket, request).await
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_catalogs(
        &self,
        _query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(discovery::catalogs(
            &self.config.database,
        )?)))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::db_schemas(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::tables(
                &self.pool,
                &self.config.database,
                self.planner.type_options(),
                query,
            )
            .await?,
        )))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(discovery::table_types(
            query,
        )?)))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::primary_keys(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::imported_keys(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::exported_keys(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_cross_reference(
        &self,
        query: CommandGetCrossReference,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::cross_reference(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        sql_info::xdbc_type_info_info(query, request.into_inner())
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        sql_info::xdbc_type_info_stream(query)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.statement_info(query, request).await
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.prepared_info(query, request).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        if let Some(record) = AuditRecord::of(&request) {
            record.set_subject(fingerprint(&query.query));
        }
        statements::create_prepared(&self.planner(&request), &self.sealer(&request), query).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        statements::close_prepared(&self.sealer(&request), query)
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let sealer = self.sealer(&request);
        let planner = self.planner(&request);
        let handle = query.prepared_statement_handle;
        statements::bind(&planner, &sealer, &handle, request.into_inner()).await
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_write("an update statement"))
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_write("a prepared update"))
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_write("bulk ingestion"))
    }

    async fn do_put_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_unsupported("a Substrait plan"))
    }

    async fn get_flight_info_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        Err(statements::refuse_unsupported("a Substrait plan"))
    }

    async fn do_action_create_prepared_substrait_plan(
        &self,
        _query: ActionCreatePreparedSubstraitPlanRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        Err(statements::refuse_unsupported("a Substrait plan"))
    }

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        _request: Request<Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        Err(statements::refuse_unsupported("a transaction"))
    }

    async fn do_action_begin_savepoint(
        &self,
        _query: ActionBeginSavepointRequest,
        _request: Request<Action>,
    ) -> Result<ActionBeginSavepointResult, Status> {
        Err(statements::refuse_unsupported("a savepoint"))
    }

    async fn do_action_cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        self.cancel_query(query, request).await
    }

    /// Flight's own actions that Flight SQL does not dispatch: CancelFlightInfo and
    /// RenewFlightEndpoint.
    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        self.flight_action(request).await
    }

    /// ListActions names Flight's own actions pgflight answers, besides Flight SQL's.
    async fn list_custom_actions(&self) -> Option<Vec<Result<ActionType, Status>>> {
        Some(actions::flight_action_types())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
