//! Flight SQL session options (`SetSessionOptions`, `GetSessionOptions`, `CloseSession`
//! actions). The Flight SQL JDBC driver sets the `catalog` option when its `catalog` connection
//! property is given (and closes the session when the connection closes). pgflight serves one
//! catalog, the configured database, so setting `catalog` to it succeeds and changes nothing;
//! any other catalog is an invalid value and any other option an invalid name. Nothing is kept
//! between calls: there is no session state to share between instances.

use std::collections::HashMap;

use prost::Message;
use tonic::Status;

use crate::flight::refusal::Refusal;
use crate::flight::status::refusal_status;

/// The action types this module answers.
pub const SET_SESSION_OPTIONS: &str = "SetSessionOptions";
/// See [`SET_SESSION_OPTIONS`].
pub const GET_SESSION_OPTIONS: &str = "GetSessionOptions";
/// See [`SET_SESSION_OPTIONS`].
pub const CLOSE_SESSION: &str = "CloseSession";

/// The one option pgflight knows.
const CATALOG: &str = "catalog";

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

/// The body answering the session action `action_type` with `body`, or `None` when it is not
/// a session action. `database` is the configured database, pgflight's one catalog.
pub fn answer(action_type: &str, body: &[u8], database: &str) -> Option<Result<Vec<u8>, Status>> {
    Some(match action_type {
        SET_SESSION_OPTIONS => set(body, database),
        GET_SESSION_OPTIONS => Ok(GetSessionOptionsResult {
            session_options: HashMap::from([(CATALOG.to_string(), string(database))]),
        }
        .encode_to_vec()),
        CLOSE_SESSION => Ok(CloseSessionResult { status: CLOSED }.encode_to_vec()),
        _ => return None,
    })
}

fn string(value: &str) -> SessionOptionValue {
    SessionOptionValue {
        option_value: Some(OptionValue::String(value.to_string())),
    }
}

fn set(body: &[u8], database: &str) -> Result<Vec<u8>, Status> {
    let request = SetSessionOptionsRequest::decode(body).map_err(|source| {
        refusal_status(&Refusal::Undecodable {
            action: "SetSessionOptions",
            message: "SetSessionOptionsRequest",
            source,
        })
    })?;
    let mut errors = HashMap::new();
    for (name, value) in request.session_options {
        let error = match (name.as_str(), value.option_value) {
            // Unsetting the catalog, or setting it to the one there is: nothing to do.
            (CATALOG, None) => continue,
            (CATALOG, Some(OptionValue::String(catalog))) if catalog == database => continue,
            (CATALOG, _) => INVALID_VALUE,
            _ => INVALID_NAME,
        };
        tracing::info!(option = %name, "session option refused");
        errors.insert(name, SetError { value: error });
    }
    Ok(SetSessionOptionsResult { errors }.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(options: &[(&str, OptionValue)]) -> Vec<u8> {
        SetSessionOptionsRequest {
            session_options: options
                .iter()
                .map(|(k, v)| {
                    let value = SessionOptionValue {
                        option_value: Some(v.clone()),
                    };
                    (k.to_string(), value)
                })
                .collect(),
        }
        .encode_to_vec()
    }

    fn errors(body: &[u8]) -> HashMap<String, i32> {
        let result = answer(SET_SESSION_OPTIONS, body, "shop").unwrap().unwrap();
        SetSessionOptionsResult::decode(result.as_slice())
            .unwrap()
            .errors
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect()
    }

    #[test]
    fn the_configured_catalog_is_accepted_and_nothing_else() {
        let ok = request(&[(CATALOG, OptionValue::String("shop".into()))]);
        assert!(errors(&ok).is_empty());
        let other = request(&[
            (CATALOG, OptionValue::String("other".into())),
            ("schema", OptionValue::String("public".into())),
        ]);
        assert_eq!(
            errors(&other),
            HashMap::from([
                ("catalog".to_string(), INVALID_VALUE),
                ("schema".to_string(), INVALID_NAME)
            ])
        );
        assert!(
            answer(SET_SESSION_OPTIONS, b"\xff\xff", "shop")
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn get_and_close_answer_and_other_actions_pass() {
        let got = answer(GET_SESSION_OPTIONS, b"", "shop").unwrap().unwrap();
        let got = GetSessionOptionsResult::decode(got.as_slice()).unwrap();
        assert_eq!(got.session_options[CATALOG], string("shop"));
        let closed = answer(CLOSE_SESSION, b"", "shop").unwrap().unwrap();
        assert_eq!(
            CloseSessionResult::decode(closed.as_slice())
                .unwrap()
                .status,
            CLOSED
        );
        assert!(answer("CreatePreparedStatement", b"", "shop").is_none());
    }
}
