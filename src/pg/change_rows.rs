//! pgoutput messages of one relation → Arrow rows of its changes, with the COPY decoders.
//!
//! pgoutput's binary values (PostgreSQL 14+, `binary 'true'`) are the types' `*_send` forms,
//! exactly what a binary COPY carries, so each change becomes one tuple of a binary COPY stream
//! fed to a [`CopyDecoder`]: the relation's columns, then `_op`, `_lsn`, `_xid`,
//! `_commit_time` and `_unchanged`. One decoder, one set of value rules for DoGet and changes.
//!
//! Rows: an insert is the new row; an update the new row (`update`), or, when its replica
//! identity changed, a `delete` of the old identity followed by an `insert` of the new row, so a
//! consumer that applies changes by key never keeps a stale key; a delete carries the replica
//! identity (the key columns; every column with REPLICA IDENTITY FULL) and NULL elsewhere; a
//! TRUNCATE of the relation is one `truncate` row with every column NULL. A TOASTed value an
//! update did not change is not in the WAL: its column is NULL and named in `_unchanged`.

use arrow::array::RecordBatch;

use crate::pg::PgError;
use crate::pg::copy::CopyDecoder;
use crate::pg::pgoutput::{self, Message, RelationMessage, Tuple, Value};
use crate::pg::read::ReadColumn;
use crate::pg::types::{ColumnPlan, Decode, PgColumn, TypeOptions, ValueKind, oid, plan_column};

/// Names of the columns pgflight adds after the relation's own.
pub const CHANGE_COLUMNS: [&str; 5] = ["_op", "_lsn", "_xid", "_commit_time", "_unchanged"];

/// Types below this oid are built in (PostgreSQL's `FirstGenbkiObjectId`).
const FIRST_USER_OID: u32 = 10_000;
/// The `text[]` array type.
const TEXT_ARRAY: u32 = 1009;

/// The binary COPY header: signature, flags, no extension.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The columns of a change stream: the relation's (as DoGet reads them) and the added ones.
pub fn change_column_plans(
    schema: &str,
    table: &str,
    columns: &[ReadColumn],
    options: &TypeOptions,
) -> Vec<ColumnPlan> {
    let mut plans: Vec<ColumnPlan> = columns
        .iter()
        .map(|c| {
            let mut plan = c.plan(schema, table, options);
            // A delete or truncate row has NULL outside the key, whatever the column allows.
            plan.field = plan.field.with_nullable(true);
            plan
        })
        .collect();
    let added = [
        ("_op", "text", oid::TEXT, None, false),
        ("_lsn", "pg_lsn", oid::TEXT, None, false),
        ("_xid", "bigint", oid::INT8, None, false),
        (
            "_commit_time",
            "timestamp with time zone",
            oid::TIMESTAMPTZ,
            None,
            false,
        ),
        ("_unchanged", "text[]", TEXT_ARRAY, Some(oid::TEXT), true),
    ];
    for (name, type_name, base_oid, element_oid, nullable) in added {
        let column = PgColumn {
            name: name.to_string(),
            type_name: type_name.to_string(),
            base_oid,
            typmod: -1,
            is_enum: false,
            element_oid,
            ndims: i32::from(element_oid.is_some()),
            nullable,
            schema: String::new(),
            table: String::new(),
            remarks: None,
            auto_increment: false,
        };
        plans.push(plan_column(&column, options));
    }
    plans
}

/// The first of `columns` whose binary form pgflight cannot decode from a change stream
/// (DoGet has PostgreSQL cast it to text, which logical decoding cannot do).
pub fn undecodable_column<'a>(
    schema: &str,
    table: &str,
    columns: &'a [ReadColumn],
    options: &TypeOptions,
) -> Option<&'a ReadColumn> {
    columns
        .iter()
        .find(|c| c.plan(schema, table, options).is_text_cast())
}

/// The transaction being read.
#[derive(Debug, Clone, Copy)]
struct Transaction {
    commit_lsn: u64,
    commit_time: i64,
    xid: u32,
}

/// Where each planned column is in the relation's tuples.
#[derive(Debug, Clone)]
struct Layout {
    oid: u32,
    /// For each planned column, its index in the tuples (`None`: not sent, NULL).
    positions: Vec<Option<usize>>,
    /// Tuple indexes of the replica identity's columns.
    key: Vec<usize>,
}

/// Turns the messages of a change stream into batches of one relation's changes.
pub struct ChangeRows {
    schema: String,
    table: String,
    columns: Vec<ReadColumn>,
    /// How each planned relation column is decoded (to check text values).
    decodes: Vec<Decode>,
    layout: Option<Layout>,
    transaction: Option<Transaction>,
    decoder: CopyDecoder,
    tuple: Vec<u8>,
    changes: u64,
    /// The COPY trailer was pushed.
    finished: bool,
}

impl ChangeRows {
    /// Rows of `schema.table`'s `columns` (as planned), in batches of `batch_size`.
    pub fn new(
        schema: &str,
        table: &str,
        columns: &[ReadColumn],
        options: &TypeOptions,
        batch_size: usize,
    ) -> Result<ChangeRows, PgError> {
        let plans = change_column_plans(schema, table, columns, options);
        let mut decoder = CopyDecoder::new(&plans, batch_size);
        decoder.push(COPY_HEADER)?;
        Ok(ChangeRows {
            schema: schema.to_string(),
            table: table.to_string(),
            columns: columns.to_vec(),
            decodes: plans.iter().map(|p| p.decode).collect(),
            layout: None,
            transaction: None,
            decoder,
            tuple: Vec::new(),
            changes: 0,
            finished: false,
        })
    }

    /// Change rows produced so far.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Takes one message (one row of `pg_logical_slot_peek_binary_changes`).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), PgError> {
        let message = pgoutput::parse(bytes).map_err(|e| PgError::ChangeStream(e.to_string()))?;
        match message {
            Message::Begin {
                final_lsn,
                commit_time,
                xid,
            } => {
                self.transaction = Some(Transaction {
                    commit_lsn: final_lsn,
                    commit_time,
                    xid,
                });
            }
            Message::Commit { .. } => self.transaction = None,
            Message::Relation(relation) => self.relation(&relation)?,
            Message::Insert { relation, new } if self.is_ours(relation) => {
                self.row("insert", &new)?;
            }
            Message::Update { relation, old, new } if self.is_ours(relation) => match old {
                Some(old) if self.key_changed(&old, &new) => {
                    self.row("delete", &old)?;
                    self.row("insert", &new)?;
                }
                _ => self.row("update", &new)?,
            },
            Message::Delete { relation, old } if self.is_ours(relation) => {
                self.row("delete", &old)?;
            }
            Message::Truncate { relations } if relations.iter().any(|oid| self.is_ours(*oid)) => {
                let empty = Tuple { values: Vec::new() };
                self.row("truncate", &empty)?;
            }
            // Another relation's change, an origin, a type, a logical message.
            _ => {}
        }
        Ok(())
    }

    /// A full batch, when one is ready.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, PgError> {
        Ok(self.decoder.next_batch()?)
    }

    /// The end of the stream: the remaining rows (call until `None`).
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, PgError> {
        if !self.finished {
            self.finished = true;
            self.decoder.push(&(-1i16).to_be_bytes())?;
        }
        Ok(self.decoder.finish()?)
    }

    fn is_ours(&self, relation: u32) -> bool {
        self.layout.as_ref().is_some_and(|l| l.oid == relation)
    }

    /// Learns where the planned columns are in the relation's tuples.
    fn relation(&mut self, relation: &RelationMessage<'_>) -> Result<(), PgError> {
        if relation.schema != self.schema || relation.name != self.table {
            return Ok(());
        }
        let mut positions = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let found = relation.columns.iter().position(|c| c.name == column.name);
            if let Some(at) = found {
                let sent = relation.columns[at].type_oid;
                if sent < FIRST_USER_OID && sent != column.base_oid {
                    return Err(PgError::ChangeStream(format!(
                        "column {:?} of {}.{} changed type since the request was planned \
                         (type oid {} now, {} planned); call GetFlightInfo again",
                        column.name, self.schema, self.table, sent, column.base_oid
                    )));
                }
            }
            positions.push(found);
        }
        let key = relation
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.key)
            .map(|(i, _)| i)
            .collect();
        self.layout = Some(Layout {
            oid: relation.oid,
            positions,
            key,
        });
        Ok(())
    }

    /// Whether an update's old replica identity differs from its new row's.
    fn key_changed(&self, old: &Tuple<'_>, new: &Tuple<'_>) -> bool {
        let Some(layout) = &self.layout else {
            return false;
        };
        layout.key.iter().any(|&i| {
            match (old.values.get(i), new.values.get(i)) {
                // An unchanged TOASTed key column is, by definition, unchanged.
                (_, Some(Value::Unchanged)) | (Some(Value::Unchanged), _) => false,
                (a, b) => a != b,
            }
        })
    }

    /// Appends one change row as a COPY tuple.
    fn row(&mut self, op: &str, values: &Tuple<'_>) -> Result<(), PgError> {
        let Some(transaction) = self.transaction else {
            return Err(PgError::ChangeStream(
                "a change outside a transaction (no Begin message before it)".into(),
            ));
        };
        let Some(layout) = &self.layout else {
            return Err(PgError::ChangeStream(
                "a change before its relation's description".into(),
            ));
        };
        let tuple = &mut self.tuple;
        tuple.clear();
        let fields = self.columns.len() + CHANGE_COLUMNS.len();
        tuple.extend((fields as i16).to_be_bytes());
        let mut unchanged = Vec::new();
        for (index, position) in layout.positions.iter().enumerate() {
            let value = position
                .and_then(|at| values.values.get(at))
                .copied()
                .unwrap_or(Value::Null);
            match value {
                Value::Null => tuple.extend((-1i32).to_be_bytes()),
                Value::Unchanged => {
                    unchanged.push(self.columns[index].name.as_str());
                    tuple.extend((-1i32).to_be_bytes());
                }
                Value::Binary(bytes) => field(tuple, bytes),
                Value::Text(bytes) if self.decodes[index] == Decode::Scalar(ValueKind::Text) => {
                    field(tuple, bytes)
                }
                Value::Text(_) => {
                    return Err(PgError::ChangeStream(format!(
                        "column {:?}: PostgreSQL sent its value as text where the binary form \
                         was asked for",
                        self.columns[index].name
                    )));
                }
            }
        }
        field(tuple, op.as_bytes());
        field(
            tuple,
            pgoutput::format_lsn(transaction.commit_lsn).as_bytes(),
        );
        field(tuple, &i64::from(transaction.xid).to_be_bytes());
        field(tuple, &transaction.commit_time.to_be_bytes());
        if unchanged.is_empty() {
            tuple.extend((-1i32).to_be_bytes());
        } else {
            field(tuple, &text_array(&unchanged));
        }
        self.decoder.push(tuple)?;
        self.changes += 1;
        Ok(())
    }
}

/// A COPY field: its length, then its bytes.
fn field(tuple: &mut Vec<u8>, bytes: &[u8]) {
    tuple.extend((bytes.len() as i32).to_be_bytes());
    tuple.extend_from_slice(bytes);
}

/// `array_send` of a one-dimensional `text[]` without NULLs.
fn text_array(items: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(1i32.to_be_bytes()); // dimensions
    out.extend(0i32.to_be_bytes()); // no NULLs
    out.extend(oid::TEXT.to_be_bytes());
    out.extend((items.len() as i32).to_be_bytes());
    out.extend(1i32.to_be_bytes()); // lower bound
    for item in items {
        field(&mut out, item.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests;
