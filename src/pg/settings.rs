//! PostgreSQL settings a client may change for its own reads (Flight SQL session options), and
//! how they are checked. A setting travels typed inside the sealed read plan and is applied with
//! `set_config(name, value, true)` (`SET LOCAL`) in the read's transaction
//! ([`crate::pg::render::settings_sql`]), so it ends with the read and never reaches another
//! client's read on the same pooled connection.
//!
//! # The allowlist
//!
//! Only settings that change how PostgreSQL *formats or waits*, never what a role may do or how
//! much of the server it may take:
//! - `TimeZone`, `DateStyle`, `IntervalStyle`, `extra_float_digits`: the text PostgreSQL
//!   produces for SQL that formats values (`now()::text`, `to_char`). Arrow columns decoded from
//!   binary COPY are unaffected (timestamps stay UTC instants).
//! - `statement_timeout` (never above the configured one) and `lock_timeout`: a client may give
//!   up sooner, not later.
//!
//! Left out on purpose: `search_path` (set through the `schema` option, checked to exist),
//! memory and parallelism settings (`work_mem`, `max_parallel_workers_per_gather`: the
//! operator's resources), `role`/`session_authorization`, `default_transaction_read_only` and
//! everything else that changes privileges or safety.

use prost::Message;

use crate::pg::{PgError, PgPool};

/// One setting a read runs with.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Setting {
    /// The setting's canonical name (one of [`SESSION_SETTINGS`], or `search_path`).
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its value, as PostgreSQL accepted it.
    #[prost(string, tag = "2")]
    pub value: String,
}

impl Setting {
    /// `name = value`.
    pub fn new(name: &str, value: impl Into<String>) -> Setting {
        Setting {
            name: name.to_string(),
            value: value.into(),
        }
    }
}

/// `statement_timeout`, which may only be lowered.
pub const STATEMENT_TIMEOUT: &str = "statement_timeout";

/// `search_path`, set only through the session's `schema`.
pub const SEARCH_PATH: &str = "search_path";

/// The PostgreSQL settings a client may set for its session, canonically spelled.
pub const SESSION_SETTINGS: [&str; 6] = [
    "TimeZone",
    "DateStyle",
    "IntervalStyle",
    "extra_float_digits",
    "lock_timeout",
    STATEMENT_TIMEOUT,
];

/// The canonical spelling of `name` when it is a setting a client may change (PostgreSQL's
/// setting names are case-insensitive).
pub fn session_setting(name: &str) -> Option<&'static str> {
    SESSION_SETTINGS
        .iter()
        .find(|allowed| allowed.eq_ignore_ascii_case(name))
        .copied()
}

/// Asks PostgreSQL whether it accepts `setting` (in a transaction rolled back at once) and
/// returns the value it would use in PostgreSQL's own units, for `statement_timeout`
/// milliseconds: `Err(PgError::Sql)` names a value PostgreSQL refuses.
pub async fn check(pool: &PgPool, setting: &Setting) -> Result<String, PgError> {
    let client = pool.get().await?;
    client
        .batch_execute("BEGIN READ ONLY")
        .await
        .map_err(|e| pool.error(e))?;
    let checked = client
        .query_one(
            "SELECT set_config($1, $2, true), \
                    (SELECT setting FROM pg_settings WHERE lower(name) = lower($1))",
            &[&setting.name, &setting.value],
        )
        .await;
    let rolled_back = client.batch_execute("ROLLBACK").await;
    let row = checked.map_err(|e| pool.error(e))?;
    rolled_back.map_err(|e| pool.error(e))?;
    Ok(row
        .get::<_, Option<String>>(1)
        .unwrap_or_else(|| setting.value.clone()))
}

/// The schema `name` when it exists and the role may use it.
pub async fn usable_schema(pool: &PgPool, name: &str) -> Result<bool, PgError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT coalesce(has_schema_privilege(n.oid, 'USAGE'), false) \
               FROM (SELECT (SELECT oid FROM pg_namespace WHERE nspname = $1) AS oid) n",
            &[&name],
        )
        .await
        .map_err(|e| pool.error(e))?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_names_in_any_case() {
        assert_eq!(session_setting("timezone"), Some("TimeZone"));
        assert_eq!(
            session_setting("STATEMENT_TIMEOUT"),
            Some(STATEMENT_TIMEOUT)
        );
        for refused in [
            "search_path",
            "role",
            "work_mem",
            "default_transaction_read_only",
            "",
        ] {
            assert_eq!(session_setting(refused), None, "{refused}");
        }
    }
}
