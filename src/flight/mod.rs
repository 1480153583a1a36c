//! The Arrow Flight SQL protocol room. Depends on `plan` and `pg`; nothing depends on it.

pub mod metadata;
pub mod service;
pub mod status;

pub use service::PgFlightSqlService;
