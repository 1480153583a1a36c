//! The `pgoutput` logical decoding messages (protocol version 1), parsed from the bytes one
//! `pg_logical_slot_peek_binary_changes` row carries.
//!
//! A pure function over byte buffers, like the COPY decoder: no I/O, every length
//! bounds-checked, malformed input an error and never a panic. Values stay borrowed slices of
//! the message; [`crate::pg::change_rows`] turns them into Arrow rows with the COPY decoders.
//!
//! Written by hand: the Rust crates that parse pgoutput come with a replication client (libpq,
//! or a fork of tokio-postgres) that pgflight does not use; the format is small and stable
//! (PostgreSQL's "Logical Replication Message Formats").

/// A pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A transaction's start: its commit LSN, commit time and id.
    Begin {
        /// LSN of the transaction's commit record.
        final_lsn: u64,
        /// Commit time, µs since 2000-01-01 UTC.
        commit_time: i64,
        /// Transaction id.
        xid: u32,
    },
    /// A transaction's end.
    Commit {
        /// LSN of the commit record.
        commit_lsn: u64,
        /// LSN just past the commit record.
        end_lsn: u64,
        /// Commit time, µs since 2000-01-01 UTC.
        commit_time: i64,
    },
    /// The transaction came from another node (replication origin); carried, not used.
    Origin,
    /// A relation's columns, sent before its first change in a session.
    Relation(RelationMessage<'a>),
    /// A type's name, sent before a relation that uses a non-built-in type; not used.
    Type,
    /// A new row.
    Insert {
        /// The relation's oid.
        relation: u32,
        /// The row.
        new: Tuple<'a>,
    },
    /// A changed row: the old key (when it changed, or every old value with REPLICA IDENTITY
    /// FULL), and the new row.
    Update {
        /// The relation's oid.
        relation: u32,
        /// The old replica identity (`K`) or whole old row (`O`), when sent.
        old: Option<Tuple<'a>>,
        /// The new row.
        new: Tuple<'a>,
    },
    /// A deleted row: its replica identity (`K`) or whole old row (`O`).
    Delete {
        /// The relation's oid.
        relation: u32,
        /// What identifies the row.
        old: Tuple<'a>,
    },
    /// Relations truncated.
    Truncate {
        /// Their oids.
        relations: Vec<u32>,
    },
    /// A logical decoding message (`pg_logical_emit_message`); not used.
    Logical,
}

/// A Relation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationMessage<'a> {
    /// The relation's oid.
    pub oid: u32,
    /// Its schema.
    pub schema: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its columns, in the order tuples carry them.
    pub columns: Vec<RelationColumn<'a>>,
}

/// One column of a Relation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn<'a> {
    /// Part of the replica identity (the key).
    pub key: bool,
    /// The column's name.
    pub name: &'a str,
    /// Its type's oid (a domain's own oid, not its base).
    pub type_oid: u32,
}

/// The values of one row, in the Relation message's column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple<'a> {
    /// Each column's value.
    pub values: Vec<Value<'a>>,
}

/// One column's value in a tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// SQL NULL (or, in a key tuple, a column outside the key).
    Null,
    /// A TOASTed value the update did not change: not sent.
    Unchanged,
    /// The value's text form.
    Text(&'a [u8]),
    /// The value's binary (`*_send`) form.
    Binary(&'a [u8]),
}

/// A message pgflight cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed pgoutput message: {0}")]
pub struct MessageError(pub String);

/// Parses one message.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, MessageError> {
    let mut r = Reader { bytes, at: 0 };
    let message = match r.u8()? {
        b'B' => Message::Begin {
            final_lsn: r.u64()?,
            commit_time: r.i64()?,
            xid: r.u32()?,
        },
        b'C' => {
            let _flags = r.u8()?;
            Message::Commit {
                commit_lsn: r.u64()?,
                end_lsn: r.u64()?,
                commit_time: r.i64()?,
            }
        }
        b'O' => {
            r.u64()?;
            r.string()?;
            Message::Origin
        }
        b'R' => Message::Relation(relation(&mut r)?),
        b'Y' => {
            r.u32()?;
            r.string()?;
            r.string()?;
            Message::Type
        }
        b'I' => {
            let relation = r.u32()?;
            r.expect(b'N')?;
            Message::Insert {
                relation,
                new: tuple(&mut r)?,
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let old = match r.u8()? {
                b'K' | b'O' => {
                    let old = tuple(&mut r)?;
                    r.expect(b'N')?;
                    Some(old)
                }
                b'N' => None,
                other => return Err(unexpected("update", other)),
            };
            Message::Update {
                relation,
                old,
                new: tuple(&mut r)?,
            }
        }
        b'D' => {
            let relation = r.u32()?;
            match r.u8()? {
                b'K' | b'O' => {}
                other => return Err(unexpected("delete", other)),
            }
            Message::Delete {
                relation,
                old: tuple(&mut r)?,
            }
        }
        b'T' => {
            let count = r.u32()?;
            let _options = r.u8()?;
            let mut relations = Vec::new();
            for _ in 0..count {
                relations.push(r.u32()?);
            }
            Message::Truncate { relations }
        }
        b'M' => {
            r.at = bytes.len();
            Message::Logical
        }
        other => {
            return Err(MessageError(format!(
                "unknown message type {:?}",
                char::from(other)
            )));
        }
    };
    if r.at != bytes.len() {
        return Err(MessageError(format!(
            "{} bytes after the message",
            bytes.len() - r.at
        )));
    }
    Ok(message)
}

fn unexpected(what: &str, byte: u8) -> MessageError {
    MessageError(format!(
        "{what}: unexpected tuple marker {:?}",
        char::from(byte)
    ))
}

fn relation<'a>(r: &mut Reader<'a>) -> Result<RelationMessage<'a>, MessageError> {
    let oid = r.u32()?;
    let schema = r.string()?;
    let name = r.string()?;
    let _replica_identity = r.u8()?;
    let count = r.u16()?;
    let mut columns = Vec::new();
    for _ in 0..count {
        let flags = r.u8()?;
        let name = r.string()?;
        let type_oid = r.u32()?;
        let _typmod = r.u32()?;
        columns.push(RelationColumn {
            key: flags & 1 == 1,
            name,
            type_oid,
        });
    }
    Ok(RelationMessage {
        oid,
        schema,
        name,
        columns,
    })
}

fn tuple<'a>(r: &mut Reader<'a>) -> Result<Tuple<'a>, MessageError> {
    let count = r.u16()?;
    let mut values = Vec::new();
    for _ in 0..count {
        values.push(match r.u8()? {
            b'n' => Value::Null,
            b'u' => Value::Unchanged,
            b't' => Value::Text(r.counted()?),
            b'b' => Value::Binary(r.counted()?),
            other => {
                return Err(MessageError(format!(
                    "unknown value kind {:?}",
                    char::from(other)
                )));
            }
        });
    }
    Ok(Tuple { values })
}

/// A bounds-checked cursor over a message.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MessageError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| {
                MessageError(format!(
                    "truncated: {n} bytes wanted at offset {} of {}",
                    self.at,
                    self.bytes.len()
                ))
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MessageError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, MessageError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, MessageError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, MessageError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, MessageError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, MessageError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn expect(&mut self, byte: u8) -> Result<(), MessageError> {
        match self.u8()? {
            b if b == byte => Ok(()),
            other => Err(MessageError(format!(
                "expected {:?}, found {:?}",
                char::from(byte),
                char::from(other)
            ))),
        }
    }

    /// A NUL-terminated UTF-8 string.
    fn string(&mut self) -> Result<&'a str, MessageError> {
        let rest = &self.bytes[self.at..];
        let len = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| MessageError("unterminated string".into()))?;
        let text = std::str::from_utf8(&rest[..len])
            .map_err(|_| MessageError("a name is not UTF-8".into()))?;
        self.at += len + 1;
        Ok(text)
    }

    /// An i32 length, then that many bytes.
    fn counted(&mut self) -> Result<&'a [u8], MessageError> {
        let len = i32::from_be_bytes(self.array()?);
        let len = usize::try_from(len)
            .map_err(|_| MessageError(format!("negative value length {len}")))?;
        self.take(len)
    }
}

/// An LSN in PostgreSQL's text form, `16/B374D848`.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Parses PostgreSQL's text form of an LSN (`16/B374D848`); `None` if it is not one.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    let valid = |part: &str| {
        !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_hexdigit())
    };
    if !valid(high) || !valid(low) {
        return None;
    }
    let high = u32::from_str_radix(high, 16).ok()?;
    let low = u32::from_str_radix(low, 16).ok()?;
    Some((u64::from(high) << 32) | u64::from(low))
}

#[cfg(test)]
mod tests;
