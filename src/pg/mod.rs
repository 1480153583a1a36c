//! PostgreSQL access: connections, catalog, type mapping, binary COPY decoding.
//! Knows nothing of Flight or DataFusion.

pub mod catalog;
pub mod connect;
pub mod copy;
pub mod error;
pub mod incremental;
pub mod keys;
pub mod listing;
pub mod metrics;
pub mod partition;
pub mod probe;
pub mod scan;
pub mod server_facts;
pub mod snapshot;
pub mod sql;
pub mod statement;
pub mod tls;
pub mod types;

pub use connect::{PgConnection, PgPool, PoolStatus};
pub use error::PgError;
