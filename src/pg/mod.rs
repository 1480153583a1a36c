//! PostgreSQL access: connections, catalog, type mapping, binary COPY decoding.
//! Knows nothing of Flight or DataFusion.

pub mod copy;
pub mod sql;
pub mod types;
