//! PostgreSQL access: connections, catalog, type mapping, binary COPY decoding.
//! Knows nothing of Flight or DataFusion.

pub mod catalog;
pub mod connect;
pub mod copy;
pub mod error;
pub mod metrics;
pub mod probe;
pub mod scan;
pub mod sql;
pub mod tls;
pub mod types;

pub use connect::{PgConnection, PgPool, PoolStatus};
pub use error::PgError;
