//! Flight SQL session options (`SetSessionOptions`, `GetSessionOptions`, `CloseSession`
//! actions). The options live in the client's sealed `pgflight_session` cookie
//! ([`crate::flight::session_cookie`]), never in one instance's memory. What a session may set:
//! - `catalog`: only the configured database (pgflight's one catalog) — the Flight SQL JDBC
//!   driver sends its `catalog` connection property this way;
//! - `schema`: an existing schema the role may use; unqualified names resolve in it (the
//!   `search_path` of SQL, the default schema of extraction requests);
//! - the PostgreSQL settings of [`crate::pg::settings::SESSION_SETTINGS`] (`TimeZone`,
//!   `DateStyle`, `IntervalStyle`, `extra_float_digits`, `lock_timeout`, `statement_timeout`,
//!   the last never above the configured one), each checked by PostgreSQL when set;
//! - `batch_size` (rows per record batch, 1 to 1 000 000) and `compression` (`zstd`, `lz4`,
//!   `none`: IPC body compression of DoGet streams).
//!
//! An unknown name answers the spec's per-option INVALID_NAME, a refused value INVALID_VALUE,
//! and the other options of the call still apply. An option without a value unsets it.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use tonic::Status;

use crate::flight::compression::Compression;
use crate::flight::refusal::Refusal;
use crate::flight::session_cookie::SessionState;
use crate::flight::status::refusal_status;
use crate::pg::settings::{self, STATEMENT_TIMEOUT, Setting, session_setting};
use crate::pg::{PgError, PgPool};

/// The action types this module answers.
pub const SET_SESSION_OPTIONS: &str = "SetSessionOptions";
/// See [`SET_SESSION_OPTIONS`].
pub const GET_SESSION_OPTIONS: &str = "GetSessionOptions";
/// See [`SET_SESSION_OPTIONS`].
pub const CLOSE_SESSION: &str = "CloseSession";

const CATALOG: &str = "catalog";
const SCHEMA: &str = "schema";
const BATCH_SIZE: &str = "batch_size";
const COMPRESSION: &str = "compression";

/// The largest `batch_size` a session may ask for.
const MAX_BATCH_SIZE: i64 = 1_000_000;

/// What checking and reporting options needs from the server.
pub struct SessionChecks<'a> {
    /// The pool PostgreSQL checks settings and schemas on.
    pub pool: &'a PgPool,
    /// The configured database, pgflight's one catalog.
    pub database: &'a str,
    /// The configured default schema (GetSessionOptions' `schema` when none was set).
    pub schema: &'a str,
    /// The configured statement timeout, which a session may only lower.
    pub statement_timeout: Duration,
}

/// A session action's answer: its body, and the session the client keeps from now on
/// (`None`: unchanged, no cookie sent).
pub struct SessionAnswer {
    /// The action result's body.
    pub body: Vec<u8>,
    /// The session to send back as the cookie.
    pub state: Option<SessionState>,
}

/// Whether `action_type` is a session action.
pub fn is_session_action(action_type: &str) -> bool {
    matches!(
        action_type,
        SET_SESSION_OPTIONS | GET_SESSION_OPTIONS | CLOSE_SESSION
    )
}

#[derive(Clone, PartialEq, Message)]
struct SessionOptionValue {
    #[prost(oneof = "OptionValue", tags = "1, 2, 3, 4, 5")]
    option_value: Option<OptionValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum OptionValue {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(sfixed64, tag = "3")]
    Int64(i64),
    #[prost(double, tag = "4")]
    Double(f64),
    #[prost(message, tag = "5")]
    StringList(StringListValue),
}

#[derive(Clone, PartialEq, Message)]
struct StringListValue {
    #[prost(string, repeated, tag = "1")]
    values: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct SetSessionOptionsRequest {
    #[prost(map = "string, message", tag = "1")]
    session_options: HashMap<String, SessionOptionValue>,
}

#[derive(Clone, PartialEq, Message)]
struct SetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    errors: HashMap<String, SetError>,
}

#[derive(Clone, PartialEq, Message)]
struct SetError {
    #[prost(int32, tag = "1")]
    value: i32,
}

/// `SetSessionOptionsResult.ErrorValue`.
const INVALID_NAME: i32 = 1;
const INVALID_VALUE: i32 = 2;
const ERROR: i32 = 3;

#[derive(Clone, PartialEq, Message)]
struct GetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    session_options: HashMap<String, SessionOptionValue>,
}

#[derive(Clone, PartialEq, Message)]
struct CloseSessionResult {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// `CloseSessionResult.Status.CLOSED`.
const CLOSED: i32 = 1;

/// Answers the session action `action_type` with `body`, for a client whose session is
/// `state`.
pub async fn answer(
    action_type: &str,
    body: &[u8],
    state: SessionState,
    checks: &SessionChecks<'_>,
) -> Result<SessionAnswer, Status> {
    Ok(match action_type {
        SET_SESSION_OPTIONS => set(body, state, checks).await?,
        GET_SESSION_OPTIONS => SessionAnswer {
            body: GetSessionOptionsResult {
                session_options: options(&state, checks),
            }
            .encode_to_vec(),
            state: None,
        },
        _ => SessionAnswer {
            body: CloseSessionResult { status: CLOSED }.encode_to_vec(),
            state: Some(SessionState::empty()),
        },
    })
}

fn string(value: &str) -> SessionOptionValue {
    SessionOptionValue {
        option_value: Some(OptionValue::String(value.to_string())),
    }
}

/// Every option the session has, as GetSessionOptions reports them.
fn options(
    state: &SessionState,
    checks: &SessionChecks<'_>,
) -> HashMap<String, SessionOptionValue> {
    let mut options = HashMap::from([
        (CATALOG.to_string(), string(checks.database)),
        (
            SCHEMA.to_string(),
            string(state.schema.as_deref().unwrap_or(checks.schema)),
        ),
    ]);
    for setting in &state.settings {
        options.insert(setting.name.clone(), string(&setting.value));
    }
    if let Some(batch_size) = state.batch_size {
        let value = SessionOptionValue {
            option_value: Some(OptionValue::Int64(batch_size as i64)),
        };
        options.insert(BATCH_SIZE.to_string(), value);
    }
    if let Some(compression) = &state.compression {
        options.insert(COMPRESSION.to_string(), string(compression));
    }
    options
}

async fn set(
    body: &[u8],
    mut state: SessionState,
    checks: &SessionChecks<'_>,
) -> Result<SessionAnswer, Status> {
    let request = SetSessionOptionsRequest::decode(body).map_err(|source| {
        refusal_status(&Refusal::Undecodable {
            action: "SetSessionOptions",
            message: "SetSessionOptionsRequest",
            source,
        })
    })?;
    let mut requested: Vec<_> = request.session_options.into_iter().collect();
    requested.sort_by(|a, b| a.0.cmp(&b.0));
    let mut errors = HashMap::new();
    for (name, value) in requested {
        if let Err(error) = set_one(&mut state, &name, value.option_value, checks).await {
            tracing::info!(option = %name, error, "session option refused");
            errors.insert(name, SetError { value: error });
        }
    }
    Ok(SessionAnswer {
        body: SetSessionOptionsResult { errors }.encode_to_vec(),
        state: Some(state),
    })
}

/// Sets (or unsets) one option; `Err` is the spec's error value.
async fn set_one(
    state: &mut SessionState,
    name: &str,
    value: Option<OptionValue>,
    checks: &SessionChecks<'_>,
) -> Result<(), i32> {
    match name {
        CATALOG => match value {
            None => Ok(()),
            Some(OptionValue::String(catalog)) if catalog == checks.database => Ok(()),
            Some(_) => Err(INVALID_VALUE),
        },
        SCHEMA => match value {
            None => {
                state.schema = None;
                Ok(())
            }
            Some(OptionValue::String(schema)) => {
                match settings::usable_schema(checks.pool, &schema).await {
                    Ok(true) => {
                        state.schema = Some(schema);
                        Ok(())
                    }
                    Ok(false) => Err(INVALID_VALUE),
                    Err(_) => Err(ERROR),
                }
            }
            Some(_) => Err(INVALID_VALUE),
        },
        BATCH_SIZE => {
            state.batch_size = match value {
                None => None,
                Some(value) => match text(value).and_then(|t| t.trim().parse::<i64>().ok()) {
                    Some(rows) if (1..=MAX_BATCH_SIZE).contains(&rows) => Some(rows as u64),
                    _ => return Err(INVALID_VALUE),
                },
            };
            Ok(())
        }
        COMPRESSION => {
            let compression = match value {
                None => None,
                Some(value) => {
                    let text = text(value).ok_or(INVALID_VALUE)?;
                    Compression::parse(&text).ok_or(INVALID_VALUE)?
                }
            };
            state.compression = compression.map(|c| c.name().to_string());
            Ok(())
        }
        other => {
            let canonical = session_setting(other).ok_or(INVALID_NAME)?;
            let Some(value) = value else {
                state.set_setting(canonical, None);
                return Ok(());
            };
            let text = text(value).ok_or(INVALID_VALUE)?;
            let checked = match settings::check(checks.pool, &Setting::new(canonical, text)).await {
                Ok(checked) => checked,
                Err(PgError::Sql(_)) => return Err(INVALID_VALUE),
                Err(_) => return Err(ERROR),
            };
            if canonical == STATEMENT_TIMEOUT && !within(&checked, checks.statement_timeout) {
                return Err(INVALID_VALUE);
            }
            state.set_setting(canonical, Some(checked));
            Ok(())
        }
    }
}

/// A value as PostgreSQL input text (strings, integers, numbers; no lists or booleans).
fn text(value: OptionValue) -> Option<String> {
    match value {
        OptionValue::String(text) => Some(text),
        OptionValue::Int64(number) => Some(number.to_string()),
        OptionValue::Double(number) => Some(number.to_string()),
        OptionValue::Bool(_) | OptionValue::StringList(_) => None,
    }
}

/// Whether a statement timeout of `ms` milliseconds (PostgreSQL's; 0: none) is no longer than
/// the configured one (zero: none).
fn within(ms: &str, configured: Duration) -> bool {
    let Ok(ms) = ms.parse::<u128>() else {
        return false;
    };
    configured.is_zero() || (ms > 0 && ms <= configured.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_timeouts_may_only_be_lowered() {
        let configured = Duration::from_secs(300);
        assert!(within("1000", configured));
        assert!(within("300000", configured));
        assert!(!within("300001", configured));
        assert!(!within("0", configured));
        assert!(!within("x", configured));
        assert!(within("0", Duration::ZERO));
    }

    #[test]
    fn values_become_input_text() {
        assert_eq!(text(OptionValue::Int64(5)), Some("5".into()));
        assert_eq!(text(OptionValue::String("UTC".into())), Some("UTC".into()));
        assert_eq!(text(OptionValue::Bool(true)), None);
        assert!(is_session_action(CLOSE_SESSION) && !is_session_action("CancelQuery"));
    }
}
