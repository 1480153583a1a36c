//! The planner: a [`Command`] becomes the [`ReadPlan`]s of its endpoints, with the exact schema
//! of the result (GetFlightInfo); a [`ReadPlan`] is executed without planning again (DoGet).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::{StreamExt, TryStreamExt};

use crate::pg::PgError;
use crate::pg::catalog_cache::{self, Checked};
use crate::pg::pgoutput::format_lsn;
use crate::pg::read::StatementRead;
use crate::pg::settings::{STATEMENT_TIMEOUT, Setting};
use crate::pg::types::arrow_schema;
use crate::pg::{changes, describe, source};
use crate::plan::PlanError;
use crate::plan::changes::{ChangesPlan, ChangesRequest, plan_changes};
use crate::plan::command::Command;
use crate::plan::context::{QueryStream, ReadContext, ReadSession};
use crate::plan::cursor::with_cursor_metadata;
use crate::plan::extract::{plan_path, plan_request, readable_relations};
use crate::plan::guard::GuardError;
use crate::plan::query;
use crate::plan::read_plan::{ReadPlan, plan_body::Body};
use crate::plan::relations;
use crate::plan::request::{ExtractionMode, ExtractionRequest};
use crate::plan::scan_plan::ExtractPlan;
use crate::plan::single;

/// Turns commands into read plans, and runs read plans.
#[derive(Clone)]
pub struct Planner {
    ctx: ReadContext,
}

/// A planned command: what GetFlightInfo answers.
pub struct Planned {
    /// The exact schema of the result (with the next cursor in its metadata, incremental).
    pub schema: SchemaRef,
    /// One read plan per endpoint.
    pub endpoints: Vec<ReadPlan>,
    /// PostgreSQL's estimate of the result's rows, where it has one.
    pub estimated_rows: Option<i64>,
    /// Whether the endpoints' rows come in the statement's order.
    pub ordered: bool,
    /// The next cursor as JSON (incremental requests), for `FlightInfo.app_metadata`.
    pub app_metadata: Option<String>,
}

/// What a prepared statement tells before it runs.
pub struct Prepared {
    /// The exact schema of the result.
    pub schema: SchemaRef,
    /// The parameters' schema (`$1…$n`).
    pub parameter_schema: SchemaRef,
    /// A pass-through statement as PostgreSQL described it, for its handle to carry.
    pub described: Option<StatementRead>,
}

fn explain_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("plan", DataType::Utf8, false)]))
}

impl Planner {
    /// A planner over `ctx`.
    pub fn new(ctx: ReadContext) -> Planner {
        Planner { ctx }
    }

    /// The type options reads are planned with.
    pub fn type_options(&self) -> &crate::pg::types::TypeOptions {
        &self.ctx.options
    }

    /// This planner for a client whose session changes its reads.
    pub fn with_session(&self, session: &ReadSession) -> Planner {
        Planner {
            ctx: self.ctx.with_session(session),
        }
    }

    /// Plans `command`: its schema and each endpoint's read plan, carrying the session's
    /// settings and batch size. Never runs the read.
    pub async fn plan(&self, command: &Command) -> Result<Planned, PlanError> {
        let mut planned = self.plan_command(command).await?;
        for endpoint in &mut planned.endpoints {
            endpoint.settings = self.ctx.settings.clone();
            endpoint.batch_size = Some(self.ctx.batch_size as u64);
        }
        Ok(planned)
    }

    async fn plan_command(&self, command: &Command) -> Result<Planned, PlanError> {
        let ctx = &self.ctx;
        match command {
            Command::Extract(request) if changes_request(request).is_some() => {
                let plan = self.changes(request, true).await?;
                Ok(Planned {
                    schema: with_cursor_metadata(
                        arrow_schema(&plan.read.column_plans(&ctx.options)),
                        Some(&plan.cursor_metadata),
                    ),
                    endpoints: vec![ReadPlan::changes(plan.read, &plan.cursor_metadata)],
                    estimated_rows: None,
                    ordered: true,
                    app_metadata: Some(plan.cursor_metadata),
                })
            }
            Command::Extract(request) => Ok(extraction(
                plan_request(
                    &ctx.pool,
                    request,
                    &ctx.default_schema,
                    &ctx.options,
                    &ctx.partitions,
                )
                .await?,
            )),
            Command::Path(path) => Ok(extraction(
                plan_path(&ctx.pool, path, &ctx.options, &ctx.partitions).await?,
            )),
            Command::Statement { sql, params } => {
                let plan = self.statement(sql).await?;
                let (endpoints, ordered) = plan.endpoints(ctx, params).await?;
                Ok(Planned {
                    schema: plan.schema.clone(),
                    endpoints,
                    estimated_rows: plan.estimated_rows(),
                    ordered,
                    app_metadata: None,
                })
            }
            Command::Described { statement, params } => {
                let columns = statement.column_plans(&ctx.options);
                let typed = StatementRead {
                    typed: true,
                    ..statement.clone()
                };
                Ok(Planned {
                    schema: arrow_schema(&columns),
                    endpoints: vec![query::bound_statement(typed, params)?],
                    estimated_rows: None,
                    ordered: true,
                    app_metadata: None,
                })
            }
            Command::Explain(inner) => Ok(Planned {
                schema: explain_schema(),
                endpoints: vec![ReadPlan::explain(Box::pin(self.explain(inner)).await?)],
                estimated_rows: None,
                ordered: true,
                app_metadata: None,
            }),
        }
    }

    /// The result and parameter schemas of `command`, without splitting or running it
    /// (CreatePreparedStatement, DoPut).
    pub async fn prepare(&self, command: &Command) -> Result<Prepared, PlanError> {
        match command {
            Command::Statement { sql, .. } => {
                let plan = self.statement(sql).await?;
                Ok(Prepared {
                    schema: plan.schema.clone(),
                    parameter_schema: plan.parameter_schema(),
                    described: plan.described(),
                })
            }
            Command::Explain(inner) => Ok(Prepared {
                schema: explain_schema(),
                parameter_schema: Box::pin(self.prepare(inner)).await?.parameter_schema,
                described: None,
            }),
            other => Ok(Prepared {
                schema: self.plan(other).await?.schema,
                parameter_schema: Arc::new(Schema::empty()),
                described: None,
            }),
        }
    }

    /// Plans a changes request; with `apply`, confirming its cursor on the slot and creating
    /// the slot when asked (GetFlightInfo), without only describing it (EXPLAIN).
    async fn changes(
        &self,
        request: &ExtractionRequest,
        apply: bool,
    ) -> Result<ChangesPlan, PlanError> {
        let Some(mut changes) = changes_request(request) else {
            return Err(PlanError::InvalidRequest("not a changes request".into()));
        };
        changes.apply = apply;
        plan_changes(
            &self.ctx.pool,
            changes,
            &self.ctx.default_schema,
            &self.ctx.options,
        )
        .await
    }

    /// Drops a change slot and its publication (the `DropChangeSlot` action's JSON body).
    pub async fn drop_change_slot(&self, body: &[u8]) -> Result<String, PlanError> {
        crate::plan::changes::drop_change_slot(&self.ctx.pool, body).await
    }

    /// Plans a client's SQL statement, after the statement guard (clients sharing one role)
    /// let it through: the one way client SQL reaches PostgreSQL (statements, prepared
    /// statements, EXPLAIN's inner statement).
    ///
    /// A statement the guard's parser cannot read is refused; PostgreSQL is asked only to
    /// describe it first (Parse and Describe, which run nothing), so that a plain syntax error
    /// reaches the client in PostgreSQL's words, with its position.
    async fn statement(&self, sql: &str) -> Result<query::StatementPlan, PlanError> {
        let parsed = relations::parse(sql);
        if let Some(guard) = &self.ctx.guard {
            match guard.check(&parsed) {
                Ok(()) => {}
                Err(unreadable @ GuardError::Unreadable { .. }) => {
                    describe::describe(
                        &self.ctx.pool,
                        self.ctx.search_path(),
                        sql,
                        &self.ctx.options,
                    )
                    .await?;
                    return Err(unreadable.into());
                }
                Err(denied) => return Err(denied.into()),
            }
        }
        let checked = self.check_readable(&parsed).await?;
        query::plan(&self.ctx, sql, parsed.ok(), &checked).await
    }

    /// pgflight's one privilege rule for SQL: a relation the statement names that the role may
    /// not read is NOT_FOUND, as it is for extraction, ListFlights and GetTables — before
    /// PostgreSQL describes the result (which does not check privileges). A statement the
    /// parser cannot read (possible with `auth = "postgres"` only) is left to PostgreSQL.
    /// The same one check query answers what the catalog cache needs to plan the statement
    /// ([`catalog_cache`]): the relations it names, checked.
    async fn check_readable(&self, parsed: &relations::Parsed) -> Result<Vec<Checked>, PlanError> {
        let Ok(statements) = parsed else {
            return Ok(Vec::new());
        };
        let names: Vec<(Option<String>, String)> = relations::named_relations(statements)
            .into_iter()
            .map(|r| (r.schema, r.name))
            .collect();
        let checked =
            catalog_cache::check_names(&self.ctx.pool, self.ctx.search_path(), &names).await?;
        match checked.iter().find(|c| c.unreadable) {
            None => Ok(checked),
            Some(name) => Err(PlanError::NotFound(format!(
                "relation {:?} not found (or not readable by this role)",
                name.named()
            ))),
        }
    }

    /// Every relation the role can read, as a path and its full-table plan (ListFlights).
    pub async fn list(&self) -> Result<Vec<(Vec<String>, Planned)>, PlanError> {
        let plans = readable_relations(&self.ctx.pool, &self.ctx.options).await?;
        Ok(plans
            .into_iter()
            .map(|plan| {
                let path = vec![plan.relation.schema.clone(), plan.relation.name.clone()];
                (path, extraction(plan))
            })
            .collect())
    }

    /// EXPLAIN's lines for `command`: the path taken, the filters pushed, the SQL sent.
    async fn explain(&self, command: &Command) -> Result<Vec<String>, PlanError> {
        let ctx = &self.ctx;
        match command {
            Command::Statement { sql, .. } => self.statement(sql).await?.explain_lines(ctx).await,
            Command::Described { statement, .. } => {
                self.statement(&statement.sql)
                    .await?
                    .explain_lines(ctx)
                    .await
            }
            Command::Explain(inner) => Box::pin(self.explain(inner)).await,
            Command::Extract(request) if changes_request(request).is_some() => {
                let plan = self.changes(request, false).await?;
                Ok(vec![
                    format!(
                        "path: changes (slot and publication {:?} of {})",
                        plan.read.slot,
                        crate::pg::sql::qualified_name(&plan.read.schema, &plan.read.table)
                    ),
                    format!(
                        "upper bound: {} (now; the request fixes its own, after confirming its \
                         cursor on the slot and creating the slot when asked: EXPLAIN changes \
                         nothing)",
                        format_lsn(plan.read.upto)
                    ),
                    format!("next cursor: {}", plan.cursor_metadata),
                    format!("sql sent: {}", crate::pg::changes::PEEK),
                ])
            }
            Command::Extract(request) => {
                let mut unsplit = request.clone();
                unsplit.partitions = Some(1);
                let plan = plan_request(
                    &ctx.pool,
                    &unsplit,
                    &ctx.default_schema,
                    &ctx.options,
                    &ctx.partitions,
                )
                .await?;
                let path = match &request.mode {
                    ExtractionMode::Incremental { cursor_field, .. } => format!(
                        "path: incremental (the cursor window of {} on {cursor_field})",
                        crate::pg::sql::qualified_name(&plan.scan.schema, &plan.scan.table)
                    ),
                    ExtractionMode::FullTable { .. } | ExtractionMode::Changes { .. } => format!(
                        "path: full table ({})",
                        crate::pg::sql::qualified_name(&plan.scan.schema, &plan.scan.table)
                    ),
                };
                Ok(extraction_lines(path, &plan))
            }
            Command::Path(path) => {
                let plan = plan_path(&ctx.pool, path, &ctx.options, &ctx.partitions).await?;
                let path = format!(
                    "path: full table ({})",
                    crate::pg::sql::qualified_name(&plan.scan.schema, &plan.scan.table)
                );
                Ok(extraction_lines(path, &plan))
            }
        }
    }

    /// Cancels every read of query `query_id` (on this instance and others), and refuses later
    /// reads of it on this instance for `remember`.
    pub async fn cancel(
        &self,
        query_id: &str,
        remember: std::time::Duration,
    ) -> Result<crate::pg::cancel::Cancelled, PlanError> {
        Ok(crate::pg::cancel::cancel(&self.ctx.pool, query_id, remember).await?)
    }

    /// When the exported snapshot `id` of a split read stops being held, if it is held now
    /// (an endpoint's expiration time).
    pub fn snapshot_expiry(&self, id: &str) -> Option<SystemTime> {
        let expires = self.ctx.pool.snapshots().expires(id)?;
        Some(SystemTime::now() + expires.saturating_duration_since(Instant::now()))
    }

    /// Holds the exported snapshot `id` of a split read `snapshot_ttl` longer (within
    /// `snapshot_max_ttl` of planning): its new expiry; an expired one is the error a DoGet
    /// after expiry gets.
    pub fn renew_snapshot(&self, id: &str) -> Result<SystemTime, PlanError> {
        let options = &self.ctx.partitions;
        let snapshots = self.ctx.pool.snapshots();
        let expires = snapshots
            .renew(id, options.snapshot_ttl, options.snapshot_max_ttl)
            .ok_or(PgError::SnapshotExpired)?;
        Ok(SystemTime::now() + expires.saturating_duration_since(Instant::now()))
    }

    /// Runs one endpoint's read plan with the settings it carries, its statements given at most
    /// `timeout` (a client's deadline; never longer than the session's statement timeout): its
    /// schema, and the stream of its batches, every batch carrying exactly that schema.
    pub async fn execute(
        &self,
        plan: ReadPlan,
        timeout: Option<Duration>,
    ) -> Result<(SchemaRef, QueryStream), PlanError> {
        let mut ctx = self.ctx.clone();
        ctx.settings = plan.settings.clone();
        if let Some(batch_size) = plan.batch_size {
            ctx.batch_size = usize::try_from(batch_size).unwrap_or(ctx.batch_size).max(1);
        }
        if let Some(timeout) = timeout {
            ctx.settings.push(statement_timeout(&ctx.settings, timeout));
        }
        let cursor = plan.cursor_metadata().map(str::to_string);
        let query_id = plan.query_id;
        match plan.body {
            Some(Body::Read(read)) => {
                let read = read.in_query(&query_id);
                let columns = read.column_plans(&ctx.options);
                let schema = with_cursor_metadata(arrow_schema(&columns), cursor.as_deref());
                let stream = source::run(
                    ctx.pool.clone(),
                    read,
                    ctx.options,
                    ctx.batch_size,
                    &ctx.settings,
                )?
                .map_err(PlanError::Pg);
                Ok((schema.clone(), with_schema(schema, Box::pin(stream))))
            }
            Some(Body::Query(query)) => {
                let planned = single::replan(&ctx, query, &query_id).await?;
                let schema = planned.schema();
                Ok((
                    schema.clone(),
                    with_schema(schema, planned.execute().await?),
                ))
            }
            Some(Body::Changes(read)) => {
                let schema = with_cursor_metadata(
                    arrow_schema(&read.column_plans(&ctx.options)),
                    cursor.as_deref(),
                );
                let stream = changes::run(ctx.pool.clone(), read, ctx.options, ctx.batch_size)?
                    .map_err(PlanError::Pg);
                Ok((schema.clone(), with_schema(schema, Box::pin(stream))))
            }
            Some(Body::Explain(explain)) => {
                let schema = explain_schema();
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(StringArray::from(explain.lines))],
                )?;
                Ok((
                    schema,
                    Box::pin(futures::stream::once(async move { Ok(batch) })),
                ))
            }
            None => Err(PlanError::InvalidRequest(
                "ticket was not issued by this pgflight (empty read plan)".into(),
            )),
        }
    }
}

/// The `statement_timeout` of a read given at most `timeout`: the shorter of it and the one
/// `settings` already hold (at least 1 ms: PostgreSQL's 0 would mean no limit).
fn statement_timeout(settings: &[Setting], timeout: Duration) -> Setting {
    let session_ms = settings
        .iter()
        .rev()
        .find(|s| s.name == STATEMENT_TIMEOUT)
        .and_then(|s| s.value.parse::<u128>().ok())
        .filter(|ms| *ms > 0);
    let ms = timeout.as_millis().max(1);
    let ms = session_ms.map_or(ms, |session| session.min(ms));
    Setting::new(STATEMENT_TIMEOUT, ms.to_string())
}

/// Every batch of `stream` with exactly `schema` (the one announced at planning).
fn with_schema(schema: SchemaRef, stream: QueryStream) -> QueryStream {
    Box::pin(stream.map(move |batch| {
        let batch = batch?;
        Ok(RecordBatch::try_new(
            schema.clone(),
            batch.columns().to_vec(),
        )?)
    }))
}

/// The parts of a changes request, if `request` is one.
fn changes_request(request: &ExtractionRequest) -> Option<ChangesRequest<'_>> {
    match &request.mode {
        ExtractionMode::Changes {
            entity,
            slot,
            cursor,
            create,
        } => Some(ChangesRequest {
            entity,
            slot,
            cursor: cursor.as_deref(),
            create: *create,
            apply: true,
        }),
        _ => None,
    }
}

/// The planned answer of an extraction.
fn extraction(plan: ExtractPlan) -> Planned {
    let estimated_rows = match plan.cursor_metadata {
        Some(_) => None,
        None => plan.relation.estimated_rows,
    };
    Planned {
        schema: plan.schema(),
        endpoints: plan.endpoints(),
        estimated_rows,
        ordered: false,
        app_metadata: plan.cursor_metadata.clone(),
    }
}

fn extraction_lines(path: String, plan: &ExtractPlan) -> Vec<String> {
    let filters = if plan.scan.filters.is_empty() {
        "none".to_string()
    } else {
        crate::pg::render::conjunction(&plan.scan.filters)
    };
    vec![
        path,
        format!("pushed filters: {filters}"),
        format!(
            "next cursor: {}",
            plan.cursor_metadata.as_deref().unwrap_or("none")
        ),
        format!("sql sent: {}", plan.copy_sql()),
    ]
}
