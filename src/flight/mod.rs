//! The Arrow Flight SQL protocol room. Depends on `plan` and `pg`; nothing depends on it.

pub mod gateway;
pub mod metadata;
pub mod metrics;
pub mod service;
pub mod status;
pub mod ticket;

pub use gateway::PgFlightService;
pub use service::PgFlightSqlService;
