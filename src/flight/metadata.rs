//! Answers to Flight SQL metadata commands, built with arrow-flight's builders.

use arrow_flight::error::FlightError;
use arrow_flight::sql::SqlInfo;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};

/// What GetSqlInfo answers: the server's identity, and that it is read-only.
/// `postgres_version` is PostgreSQL's `server_version` as the pool's first session saw it.
pub fn sql_info(postgres_version: Option<&str>) -> Result<SqlInfoData, FlightError> {
    let mut builder = SqlInfoDataBuilder::new();
    builder.append(SqlInfo::FlightSqlServerName, "pgflight");
    let version = match postgres_version {
        Some(pg) => format!("{} (PostgreSQL {pg})", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_string(),
    };
    builder.append(SqlInfo::FlightSqlServerVersion, version.as_str());
    builder.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    builder.append(SqlInfo::FlightSqlServerReadOnly, true);
    builder.build()
}
