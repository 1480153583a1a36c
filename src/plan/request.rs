//! The seed connector's extraction requests, as JSON bytes of a command descriptor:
//!
//! ```json
//! {"mode": {"fullTable":   {"entity": "users"}}}
//! {"mode": {"incremental": {"entity": "users", "cursorField": "updated_at", "cursor": "2023-01-01T00:00:00Z"}}}
//! ```

use serde::Deserialize;

use crate::plan::PlanError;

/// The shape the seed connector sends, with pgflight's optional additions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractionRequest {
    /// Which extraction.
    pub mode: ExtractionMode,
    /// Ask for this many endpoints (bounded by `max_partitions` and the pool), whatever the
    /// table's size; 1 asks for a single endpoint.
    #[serde(default)]
    pub partitions: Option<usize>,
    /// `"keys"`: split by ranges of the integer primary key even where block ranges work.
    #[serde(default)]
    pub split: Option<SplitBy>,
}

/// How a request wants its table split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitBy {
    /// Ranges of the integer primary key.
    Keys,
}

/// Full table or incremental.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ExtractionMode {
    /// Every row of `entity`.
    FullTable {
        /// `name`, `schema.name` or quoted names.
        entity: String,
    },
    /// Rows changed since `cursor`, by `cursorField`.
    #[serde(rename_all = "camelCase")]
    Incremental {
        /// `name`, `schema.name` or quoted names.
        entity: String,
        /// The column that orders changes.
        cursor_field: String,
        /// The previous run's cursor; absent or null on the first run.
        #[serde(default)]
        cursor: Option<String>,
    },
    /// Every committed insert, update, delete and truncate of `entity` since `cursor`, from the
    /// logical replication slot `slot` (issue 17).
    Changes {
        /// `name`, `schema.name` or quoted names (a table).
        entity: String,
        /// The logical replication slot (its publication has the same name).
        slot: String,
        /// The previous run's cursor (an LSN); absent or null: from the slot's confirmed position.
        #[serde(default)]
        cursor: Option<String>,
        /// Create the publication and the slot when missing.
        #[serde(default)]
        create: bool,
    },
}

const REQUEST_FORMS: &str = r#"{"mode":{"fullTable":{"entity":"<table>"}}} or {"mode":{"incremental":{"entity":"<table>","cursorField":"<column>","cursor":"<value>"}}} or {"mode":{"changes":{"entity":"<table>","slot":"<slot>","cursor":"<lsn>","create":false}}}"#;

/// Parses the JSON bytes of a command descriptor.
pub fn parse_request(bytes: &[u8]) -> Result<ExtractionRequest, PlanError> {
    serde_json::from_slice(bytes).map_err(|e| {
        PlanError::InvalidRequest(format!(
            "extraction request is not valid: {e}; expected {REQUEST_FORMS}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_requests_parse() {
        let full = parse_request(br#"{"mode":{"fullTable":{"entity":"users"}}}"#).unwrap();
        assert_eq!(
            full.mode,
            ExtractionMode::FullTable {
                entity: "users".into()
            }
        );
        let inc = parse_request(
            br#"{"mode":{"incremental":{"entity":"users","cursorField":"updated_at","cursor":"2023-01-01T00:00:00Z"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            inc.mode,
            ExtractionMode::Incremental {
                cursor: Some(_),
                ..
            }
        ));
        let first = parse_request(
            br#"{"mode":{"incremental":{"entity":"users","cursorField":"id","cursor":null}}}"#,
        )
        .unwrap();
        assert!(matches!(
            first.mode,
            ExtractionMode::Incremental { cursor: None, .. }
        ));
        let changes = parse_request(
            br#"{"mode":{"changes":{"entity":"users","slot":"etl_users","cursor":null}}}"#,
        )
        .unwrap();
        assert_eq!(
            changes.mode,
            ExtractionMode::Changes {
                entity: "users".into(),
                slot: "etl_users".into(),
                cursor: None,
                create: false
            }
        );
        assert!(
            parse_request(br#"{"mode":{"changes":{"entity":"u","slot":"s","create":true}}}"#)
                .is_ok()
        );
        assert!(parse_request(br#"{"mode":{"changes":{"entity":"u"}}}"#).is_err());
    }

    #[test]
    fn malformed_requests_say_what_was_expected() {
        for bad in [
            &b"{"[..],
            br#"{"mode":{}}"#,
            br#"{"mode":{"fullTabel":{"entity":"users"}}}"#,
            br#"{"mode":{"fullTable":{}}}"#,
            br#"{"mode":{"fullTable":{"entity":7}}}"#,
            br#"{"mode":{"fullTable":{"entity":"u"}},"extra":1}"#,
        ] {
            let err = parse_request(bad).unwrap_err().to_string();
            assert!(err.contains("expected {\"mode\":{\"fullTable\""), "{err}");
        }
    }
}
