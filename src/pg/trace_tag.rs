//! The trace id in `application_name`, so that a DBA finds the backend of a traced read in
//! `pg_stat_activity` (`WHERE application_name LIKE '%trace=<id>%'`). Appended to whatever the
//! connection's name is at that moment, for the read's transaction only.

use crate::pg::sql::quote_literal;

/// The statement that appends ` trace=<trace_id>` to `application_name` until the transaction
/// ends (PostgreSQL keeps at most 63 bytes of it).
pub fn application_name_sql(trace_id: &str) -> String {
    format!(
        "SELECT set_config('application_name', current_setting('application_name') || {}, true)",
        quote_literal(&format!(" trace={trace_id}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_trace_id_as_a_quoted_literal_for_the_transaction() {
        assert_eq!(
            application_name_sql("0af7651916cd43dd8448eb211c80319c"),
            "SELECT set_config('application_name', current_setting('application_name') || \
             ' trace=0af7651916cd43dd8448eb211c80319c', true)"
        );
        assert!(application_name_sql("x'y").contains("' trace=x''y'"));
    }
}
