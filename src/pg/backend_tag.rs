//! The one tag a read's backend carries: its transaction's `application_name`, set in the
//! message that begins the transaction and undone by its ROLLBACK, so that PostgreSQL itself
//! tells who runs what, whichever pgflight instance runs it:
//!
//! `pgflight s=<snapshot>/<part> q=<query> trace=<trace id>`, each part present when the read
//! has it. `s=` is the exported snapshot an endpoint imported (its holder looks for it,
//! [`crate::pg::snapshot`]); `q=` the first 12 hex digits of the query id (a cancel finds the
//! query's reads on other instances by it, [`crate::pg::cancel`]); `trace=` the trace id, for a
//! DBA (`WHERE application_name LIKE '%trace=<id>%'`). The statement text stays the client's
//! own, so PostgreSQL reuses the plans of statements prepared on the connection. PostgreSQL
//! keeps 63 bytes of `application_name`: with all three parts the trace id is cut short.

use crate::pg::sql::quote_literal;

/// The hex digits of a query id in the tag (48 random bits tell running queries apart).
const QUERY_DIGITS: usize = 12;

/// What a read's backend is tagged with.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackendTag<'a> {
    /// The exported snapshot the read imported, and its endpoint's part.
    pub snapshot: Option<(&'a str, u32)>,
    /// The query the read belongs to.
    pub query: Option<&'a str>,
    /// The trace the read belongs to.
    pub trace: Option<&'a str>,
}

impl BackendTag<'_> {
    /// Whether the tag says anything beyond `pgflight`.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.query.is_none() && self.trace.is_none()
    }

    /// The `application_name` of the read's transaction.
    pub fn application_name(&self) -> String {
        let mut name = "pgflight".to_string();
        if let Some((id, part)) = self.snapshot {
            name.push_str(&format!(" {}{part}", snapshot_token(id)));
        }
        if let Some(id) = self.query {
            name.push_str(&format!(" {}", query_token(id)));
        }
        if let Some(id) = self.trace {
            name.push_str(&format!(" trace={id}"));
        }
        name
    }

    /// The statement that tags the transaction (`set_config(…, true)`: until it ends; a
    /// `SELECT`, so that `pg_stat_statements` counts every tag as one statement).
    pub fn set_sql(&self) -> String {
        format!(
            "SELECT set_config('application_name', {}, true)",
            quote_literal(&self.application_name())
        )
    }
}

/// What precedes the part in the tag of an endpoint that imported snapshot `id`: `s=<id>/`.
pub fn snapshot_token(id: &str) -> String {
    format!("s={id}/")
}

/// The part of endpoint tags (`application_name`s) that follows `token`
/// ([`snapshot_token`]), when they carry it.
pub fn snapshot_part(application_name: &str, token: &str) -> Option<u32> {
    application_name
        .split(' ')
        .find_map(|word| word.strip_prefix(token))?
        .parse()
        .ok()
}

/// How the tag names query `id`: `q=<first 12 digits, lower case>`.
pub fn query_token(id: &str) -> String {
    let digits = id.get(..QUERY_DIGITS).unwrap_or(id);
    format!("q={}", digits.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_in_one_name_and_one_statement() {
        let tag = BackendTag {
            snapshot: Some(("00000003-0000001B-1", 2)),
            query: Some("0123456789ABCDEF0123456789abcdef"),
            trace: Some("0af7651916cd43dd8448eb211c80319c"),
        };
        let name = tag.application_name();
        assert_eq!(
            name,
            "pgflight s=00000003-0000001B-1/2 q=0123456789ab \
             trace=0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(
            snapshot_part(&name, &snapshot_token("00000003-0000001B-1")),
            Some(2)
        );
        assert_eq!(
            snapshot_part(&name, &snapshot_token("00000003-0000001C-1")),
            None
        );
        assert!(
            tag.set_sql()
                .starts_with("SELECT set_config('application_name', 'pgflight s=")
        );
        let traced = BackendTag {
            trace: Some("x'y"),
            ..BackendTag::default()
        };
        assert!(traced.set_sql().contains("'pgflight trace=x''y'"));
        assert!(BackendTag::default().is_empty());
        // A query and a trace fit PostgreSQL's 63 bytes whole.
        let read = BackendTag {
            snapshot: None,
            ..tag
        };
        assert!(read.application_name().len() <= 63);
    }
}
