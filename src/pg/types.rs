//! PostgreSQL type → Arrow DataType mapping.
