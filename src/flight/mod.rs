//! The Arrow Flight SQL protocol room. Depends on `plan` and `pg`; nothing depends on it.

pub mod access;
pub mod audit;
pub mod auth;
pub mod cancel;
pub mod compression;
pub mod deadline;
pub mod discovery;
pub mod gateway;
pub mod limits;
pub mod locations;
pub mod metadata;
pub mod metrics;
pub mod password;
pub mod refusal;
pub mod renew;
pub mod roles;
pub mod service;
pub mod session;
pub mod session_cookie;
pub mod signing;
pub mod statements;
pub mod status;
pub mod ticket;
pub mod tls;
pub mod trace;

pub use gateway::PgFlightService;
pub use service::PgFlightSqlService;
