//! The statement guard: with `auth = "none"` or `"password"` every client shares one
//! PostgreSQL role, so PostgreSQL's privileges cannot tell one client from another. Before any
//! client SQL reaches PostgreSQL in those modes, the [`crate::plan::planner::Planner`] parses
//! it (DataFusion's sqlparser, PostgreSQL dialect) and walks the whole tree — CTEs, subqueries,
//! `LATERAL`, function arguments, table functions in `FROM`, `CALL` — checking every function
//! called against [`DENYLIST`] (plus the configured `deny_functions`). No regular expression
//! ever looks at SQL text.
//!
//! # Names
//!
//! A call is matched by its function name, the last part of a qualified name, ignoring case:
//! `pg_sleep(1)`, `PG_SLEEP(1)`, `"pg_sleep"(1)` and `pg_catalog.pg_sleep(1)` (any schema, any
//! number of qualifiers) are one function. Quoted names are compared without case too (a
//! quoted upper-case name is another function in PostgreSQL; refusing it as well errs on the
//! safe side). Patterns may use `*` for any characters (`pg_ls_*`).
//!
//! # What the guard cannot see
//!
//! It sees names written in the statement, not what PostgreSQL runs underneath: a view, a SQL
//! or PL/pgSQL function a DBA created, a rule, a trigger, or an operator whose function calls
//! `pg_sleep` is not refused. Creating any of those takes privileges no pgflight client has
//! (sessions are read-only); the server-file functions need superuser or `pg_read_server_files`,
//! which pgflight refuses to serve as ([`crate::pg::roles`]); what remains (signalling the
//! shared role's own backends, advisory locks, sleeping) is only reachable through objects a
//! DBA chose to create. A DBA who needs more adds the wrapper's name to `deny_functions`, or
//! revokes `EXECUTE` from the serving role; `auth = "postgres"` (each client its own role)
//! does not need the guard at all.
//!
//! # Statements the parser cannot read
//!
//! They are refused (INVALID_ARGUMENT, with the parser's words): the guard cannot vouch for
//! what it cannot read. The planner first lets PostgreSQL describe such a statement (Parse and
//! Describe run nothing), so a plain syntax error is answered in PostgreSQL's words and
//! position instead. sqlparser reads all the SQL pgflight's own tests send (see the corpus
//! test); `auth = "postgres"` passes any SQL to PostgreSQL.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Statement, TableFactor, Visit, Visitor,
};

use crate::plan::relations::Parsed;

/// Functions refused for clients that share a role: (name or `*` pattern, why).
pub const DENYLIST: &[(&str, &str)] = &[
    // Backend signalling: a shared role may cancel or end every other client's session.
    ("pg_cancel_backend", "it signals other sessions"),
    ("pg_terminate_backend", "it signals other sessions"),
    (
        "pg_log_backend_memory_contexts",
        "it signals other sessions",
    ),
    // Server files and directories.
    ("pg_read_file", "it reads the server's files"),
    ("pg_read_binary_file", "it reads the server's files"),
    ("pg_stat_file", "it reads the server's files"),
    ("pg_ls_*", "it lists the server's directories"),
    (
        "pg_file_*",
        "it reads or writes the server's files (adminpack)",
    ),
    (
        "pg_logdir_ls",
        "it lists the server's directories (adminpack)",
    ),
    // Large objects (server files through lo_import/lo_export, shared storage).
    ("lo_*", "it reads or writes large objects or server files"),
    ("loread", "it reads large objects"),
    ("lowrite", "it writes large objects"),
    // Configuration and logs.
    ("set_config", "it changes the session's configuration"),
    ("pg_reload_conf", "it reloads the server's configuration"),
    ("pg_rotate_logfile*", "it rotates the server's log"),
    // Advisory locks: shared by every client of the role.
    ("pg_advisory_*", "it takes or releases advisory locks"),
    ("pg_try_advisory_*", "it takes advisory locks"),
    // Sleeping holds a connection of the shared pool.
    ("pg_sleep*", "it holds a shared connection idle"),
    // Other databases and servers.
    ("dblink*", "it connects to other databases"),
    // Notifications to every listener.
    ("pg_notify", "it notifies other sessions"),
    // Replication and WAL control.
    ("pg_*replication_slot*", "it controls replication"),
    ("pg_logical_*", "it controls logical decoding"),
    ("pg_replication_origin_*", "it controls replication"),
    ("pg_switch_wal", "it controls the WAL"),
    ("pg_switch_xlog", "it controls the WAL"),
    ("pg_create_restore_point", "it controls the WAL"),
    ("pg_wal_replay_*", "it controls recovery"),
    ("pg_promote", "it controls recovery"),
    ("pg_backup_*", "it controls backups"),
    ("pg_start_backup", "it controls backups"),
    ("pg_stop_backup", "it controls backups"),
    // Statistics every client shares.
    ("pg_stat_reset*", "it resets shared statistics"),
    // Functions that run SQL given as text, which the guard cannot read.
    ("query_to_xml*", "it runs SQL given as text"),
    ("query_to_xmlschema", "it runs SQL given as text"),
    ("cursor_to_xml*", "it reads a cursor"),
    ("ts_stat", "it runs SQL given as text"),
    ("ts_rewrite", "it may run SQL given as text"),
];

/// Why the guard refused a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The statement calls a function on the denylist.
    #[error(
        "pgflight refuses to run {function}(): {why}, and the clients of this pgflight share one \
         PostgreSQL role (auth = \"none\" or \"password\"; auth = \"postgres\" runs each client's SQL \
         as its own role)"
    )]
    Denied {
        /// The function as written (its last name part).
        function: String,
        /// Why it is on the list.
        why: String,
    },
    /// The parser could not read the statement, so the guard cannot check it.
    #[error(
        "pgflight cannot check this statement (its SQL parser says: {reason}); with clients that \
         share one PostgreSQL role (auth = \"none\" or \"password\") only statements it can read \
         are run (auth = \"postgres\" passes any SQL to PostgreSQL)"
    )]
    Unreadable {
        /// The parser's words.
        reason: String,
    },
}

/// One denylist entry: a name or a `*` pattern, lowercase.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    why: String,
}

impl Pattern {
    fn matches(&self, name: &str) -> bool {
        glob(&self.text, name)
    }
}

/// `pattern` (with `*` for any characters) matches all of `name`.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The denylist, and the check of a statement against it.
#[derive(Debug, Clone)]
pub struct StatementGuard {
    patterns: Vec<Pattern>,
}

impl StatementGuard {
    /// [`DENYLIST`] plus `extra` (lowercase names or `*` patterns, from `deny_functions`).
    pub fn new(extra: &[String]) -> StatementGuard {
        let mut patterns: Vec<Pattern> = DENYLIST
            .iter()
            .map(|(text, why)| Pattern {
                text: (*text).to_string(),
                why: (*why).to_string(),
            })
            .collect();
        patterns.extend(extra.iter().map(|text| Pattern {
            text: text.to_ascii_lowercase(),
            why: "it is listed in deny_functions".to_string(),
        }));
        StatementGuard { patterns }
    }

    /// Checks client SQL as [`crate::plan::relations::parse`] read it (one statement or several): every
    /// function it calls, anywhere in its tree.
    pub fn check(&self, parsed: &Parsed) -> Result<(), GuardError> {
        let statements = parsed.as_ref().map_err(|e| GuardError::Unreadable {
            reason: e.to_string(),
        })?;
        let mut calls = Calls { guard: self };
        match statements.visit(&mut calls) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(err) => Err(err),
        }
    }

    /// Refuses `name` when its last part is on the list.
    fn function(&self, name: &ObjectName) -> ControlFlow<GuardError> {
        let Some(last) = name.0.last() else {
            return ControlFlow::Continue(());
        };
        let written = match last {
            ObjectNamePart::Identifier(ident) => &ident.value,
            ObjectNamePart::Function(function) => &function.name.value,
        };
        let lower = written.to_lowercase();
        match self.patterns.iter().find(|p| p.matches(&lower)) {
            Some(pattern) => ControlFlow::Break(GuardError::Denied {
                function: written.clone(),
                why: pattern.why.clone(),
            }),
            None => ControlFlow::Continue(()),
        }
    }
}

/// The visitor that meets every call: functions in expressions, table functions in `FROM`,
/// `CALL`, and function parts of object names.
struct Calls<'a> {
    guard: &'a StatementGuard,
}

impl Visitor for Calls<'_> {
    type Break = GuardError;

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<GuardError> {
        match expr {
            Expr::Function(function) => self.guard.function(&function.name),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<GuardError> {
        match factor {
            // `FROM pg_ls_dir('.')`: a relation with arguments is a function call.
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => self.guard.function(name),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<GuardError> {
        // A plain relation is not a call, unless one of its parts is computed by a function.
        for part in &relation.0 {
            if let ObjectNamePart::Function(function) = part {
                self.guard
                    .function(&ObjectName(vec![ObjectNamePart::Identifier(
                        function.name.clone(),
                    )]))?;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<GuardError> {
        match statement {
            Statement::Call(function) => self.guard.function(&function.name),
            _ => ControlFlow::Continue(()),
        }
    }
}

#[cfg(test)]
mod tests;
