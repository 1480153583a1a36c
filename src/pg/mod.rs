//! PostgreSQL access: connections, catalog, type mapping, binary COPY decoding.
//! Knows nothing of Flight or DataFusion.

pub mod backend_tag;
pub mod cancel;
pub mod catalog;
pub mod catalog_cache;
pub mod change_rows;
pub mod changes;
pub mod connect;
pub mod copy;
pub mod data_rows;
pub mod describe;
pub mod error;
pub mod fingerprint;
pub mod incremental;
pub mod keys;
pub mod listing;
pub mod metrics;
pub mod partition;
pub mod pgoutput;
pub mod placeholders;
pub mod probe;
pub mod read;
pub mod render;
pub mod roles;
pub mod server_facts;
pub mod settings;
pub mod slot;
pub mod slot_watch;
pub mod snapshot;
pub mod source;
pub mod sql;
pub mod tls;

pub mod types;

pub use connect::{PgConnection, PgPool, PoolStatus};
pub use error::PgError;
