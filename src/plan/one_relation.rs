//! DataFusion planning a statement over one relation without a session of its own: the shared
//! session states (configuration, functions, optimizer rules; one per batch size, built once),
//! the SQL planner's view of a plan (the state's functions and exactly one relation, never
//! registered in a catalog), the optimizer rules such a plan needs ([`RULES`]), and the
//! optimizer's clock (the plan's own start time).
//!
//! Building or cloning a `SessionState` copies its function registries (hundreds of named
//! entries): that was most of the cost of planning a one-row statement. A plan here only reads
//! its state, so any number of plans share one.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use arrow::datatypes::{DataType, SchemaRef};
use chrono::{DateTime, Utc};
use datafusion::common::alias::AliasGenerator;
use datafusion::common::file_options::file_type::FileType;
use datafusion::common::{ResolvedTableReference, TableReference, plan_datafusion_err};
use datafusion::config::ConfigOptions;
use datafusion::datasource::cte_worktable::CteWorkTable;
use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::provider_as_source;
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::planner::{ContextProvider, ExprPlanner, RelationPlanner};
use datafusion::logical_expr::{
    AggregateUDF, HigherOrderUDF, LogicalPlan, ScalarUDF, TableSource, WindowUDF,
};
use datafusion::optimizer::{Optimizer, OptimizerConfig};
use datafusion::sql::parser::Statement;
use datafusion::sql::planner::{ParserOptions, SqlToRel};

/// At most this many batch sizes keep a state; a plan with another builds its own.
const STATES_KEPT: usize = 16;

/// The logical optimizer rules a plan here runs, by name, in DataFusion's order: those that can
/// change a plan [`crate::plan::single`] lets through — projections of columns, filters of
/// columns, literals, comparisons and a few functions, sorts by columns, limits and aliases
/// over one scan (anything else passes through to PostgreSQL before optimization). They fold
/// constants, drop `WHERE true` and `LIMIT` no-ops, turn `WHERE false` and `LIMIT 0` into an
/// empty result, push limits and filters into the scan, share repeated expressions and prune
/// columns. The others rewrite joins, unions, subqueries, `DISTINCT`, aggregates and struct
/// field access, none of which such a plan holds: leaving them out changes no plan (tested
/// against all of DataFusion's rules), it only spares visiting the plan once per rule and pass.
const RULES: [&str; 9] = [
    "simplify_expressions",
    "eliminate_duplicated_expr",
    "eliminate_filter",
    "eliminate_limit",
    "propagate_empty_relation",
    "push_down_limit",
    "push_down_filter",
    "common_sub_expression_eliminate",
    "optimize_projections",
];

/// The shared states, by batch size.
static STATES: LazyLock<Mutex<HashMap<usize, Arc<SessionState>>>> = LazyLock::new(Mutex::default);

/// DataFusion's session state for plans reading `batch_size` rows a batch: one partition, no
/// information schema. Shared: built once per batch size.
pub fn state(batch_size: usize) -> Arc<SessionState> {
    let mut states = STATES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(state) = states.get(&batch_size) {
        return state.clone();
    }
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_information_schema(false)
        .with_batch_size(batch_size);
    let rules = Optimizer::new()
        .rules
        .into_iter()
        .filter(|rule| RULES.contains(&rule.name()))
        .collect();
    let mut state =
        SessionStateBuilder::new_from_existing(SessionContext::new_with_config(config).state())
            .with_optimizer_rules(rules)
            .build();
    state.mark_start_execution();
    let state = Arc::new(state);
    if states.len() < STATES_KEPT {
        states.insert(batch_size, state.clone());
    }
    state
}

/// The logical plan of `statement`, whose one relation `reference` is `table`.
pub fn logical_plan(
    state: &SessionState,
    statement: Statement,
    reference: &TableReference,
    table: Arc<dyn datafusion::datasource::TableProvider>,
) -> Result<LogicalPlan> {
    let provider = OneRelation {
        state,
        name: resolve(state, reference.clone()),
        source: provider_as_source(table),
    };
    SqlToRel::new_with_options(&provider, parser_options(state.config_options()))
        .statement_to_plan(statement)
}

/// `plan` analysed (type coercion) and optimized by `state`'s rules, `now()` being the time of
/// this call.
pub fn optimize(state: &SessionState, plan: LogicalPlan) -> Result<LogicalPlan> {
    optimize_by(state, state.optimizer(), plan)
}

/// `plan` optimized by all of DataFusion's rules, as [`optimize`] otherwise does (what the
/// rules kept must give).
#[cfg(test)]
pub fn optimize_fully(state: &SessionState, plan: LogicalPlan) -> Result<LogicalPlan> {
    optimize_by(state, &Optimizer::new(), plan)
}

fn optimize_by(
    state: &SessionState,
    optimizer: &Optimizer,
    plan: LogicalPlan,
) -> Result<LogicalPlan> {
    let analyzed = state
        .analyzer()
        .execute_and_check(plan, state.config_options(), |_, _| {})?;
    let clock = PlanClock {
        state,
        start: Utc::now(),
        aliases: Arc::new(AliasGenerator::new()),
    };
    optimizer.optimize(analyzed, &clock, |_, _| {})
}

fn resolve(state: &SessionState, reference: TableReference) -> ResolvedTableReference {
    let catalog = &state.config_options().catalog;
    reference.resolve(&catalog.default_catalog, &catalog.default_schema)
}

/// The SQL planner's options from the session's configuration (as DataFusion's own session
/// derives them).
fn parser_options(options: &ConfigOptions) -> ParserOptions {
    let sql = &options.sql_parser;
    ParserOptions {
        parse_float_as_decimal: sql.parse_float_as_decimal,
        enable_ident_normalization: sql.enable_ident_normalization,
        enable_options_value_normalization: sql.enable_options_value_normalization,
        support_varchar_with_length: sql.support_varchar_with_length,
        map_string_types_to_utf8view: sql.map_string_types_to_utf8view,
        collect_spans: sql.collect_spans,
        default_null_ordering: sql.default_null_ordering.as_str().into(),
    }
}

/// What the SQL planner knows of one plan: the shared state's functions, planners and
/// options, and one relation (`name`, read from `source`). Everything else answers as
/// DataFusion's own session would (the shared state has no variables and no type planner).
struct OneRelation<'a> {
    state: &'a SessionState,
    name: ResolvedTableReference,
    source: Arc<dyn TableSource>,
}

impl ContextProvider for OneRelation<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        let name = resolve(self.state, name);
        if name == self.name {
            Ok(self.source.clone())
        } else {
            Err(plan_datafusion_err!("table '{name}' not found"))
        }
    }

    fn get_file_type(&self, ext: &str) -> Result<Arc<dyn FileType>> {
        self.state
            .get_file_format_factory(ext)
            .map(format_as_file_type)
            .ok_or_else(|| {
                plan_datafusion_err!("There is no registered file format with ext {ext}")
            })
    }

    fn create_cte_work_table(&self, name: &str, schema: SchemaRef) -> Result<Arc<dyn TableSource>> {
        Ok(provider_as_source(Arc::new(CteWorkTable::new(
            name, schema,
        ))))
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        self.state.expr_planners()
    }

    fn get_relation_planners(&self) -> &[Arc<dyn RelationPlanner>] {
        self.state.relation_planners()
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.state.scalar_functions().get(name).cloned()
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.state.higher_order_functions().get(name).cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.state.aggregate_functions().get(name).cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.state.window_functions().get(name).cloned()
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.state.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        self.state.scalar_functions().keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.state
            .higher_order_functions()
            .keys()
            .cloned()
            .collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.state.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.state.window_functions().keys().cloned().collect()
    }
}

/// The optimizer's view of one plan: the shared state's options and functions, with the
/// plan's own start time (what `now()` folds to) and aliases.
struct PlanClock<'a> {
    state: &'a SessionState,
    start: DateTime<Utc>,
    aliases: Arc<AliasGenerator>,
}

impl OptimizerConfig for PlanClock<'_> {
    fn query_execution_start_time(&self) -> Option<DateTime<Utc>> {
        Some(self.start)
    }

    fn alias_generator(&self) -> &Arc<AliasGenerator> {
        &self.aliases
    }

    fn options(&self) -> Arc<ConfigOptions> {
        self.state.config_options().clone()
    }

    fn function_registry(&self) -> Option<&dyn datafusion::execution::FunctionRegistry> {
        Some(self.state)
    }
}
