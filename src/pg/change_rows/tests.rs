//! Change rows from hand-built pgoutput messages: each operation, key changes, TOAST, TRUNCATE,
//! other relations ignored.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMicrosecondType};

use super::*;

fn column(name: &str, base_oid: u32, type_name: &str) -> ReadColumn {
    ReadColumn {
        name: name.into(),
        type_name: type_name.into(),
        base_oid,
        typmod: -1,
        nullable: true,
        ..ReadColumn::default()
    }
}

fn columns() -> Vec<ReadColumn> {
    vec![
        column("id", oid::INT4, "integer"),
        column("name", oid::TEXT, "text"),
    ]
}

fn relation(oid: u32, name: &str) -> Vec<u8> {
    let mut m = vec![b'R'];
    m.extend(oid.to_be_bytes());
    m.extend(b"public\0");
    m.extend(name.as_bytes());
    m.push(0);
    m.push(b'd');
    m.extend(2u16.to_be_bytes());
    for (flags, col, type_oid) in [(1u8, "id", oid::INT4), (0, "name", oid::TEXT)] {
        m.push(flags);
        m.extend(col.as_bytes());
        m.push(0);
        m.extend(type_oid.to_be_bytes());
        m.extend((-1i32).to_be_bytes());
    }
    m
}

enum V<'a> {
    Int(i32),
    Text(&'a str),
    Null,
    Unchanged,
}

fn tuple(values: &[V]) -> Vec<u8> {
    let mut m = (values.len() as u16).to_be_bytes().to_vec();
    for v in values {
        match v {
            V::Int(i) => {
                m.push(b'b');
                m.extend(4i32.to_be_bytes());
                m.extend(i.to_be_bytes());
            }
            V::Text(t) => {
                m.push(b'b');
                m.extend((t.len() as i32).to_be_bytes());
                m.extend(t.as_bytes());
            }
            V::Null => m.push(b'n'),
            V::Unchanged => m.push(b'u'),
        }
    }
    m
}

fn begin(lsn: u64, xid: u32) -> Vec<u8> {
    let mut m = vec![b'B'];
    m.extend(lsn.to_be_bytes());
    m.extend(1_000_000i64.to_be_bytes());
    m.extend(xid.to_be_bytes());
    m
}

fn commit(lsn: u64) -> Vec<u8> {
    let mut m = vec![b'C', 0];
    m.extend(lsn.to_be_bytes());
    m.extend((lsn + 8).to_be_bytes());
    m.extend(1_000_000i64.to_be_bytes());
    m
}

fn change(kind: u8, rel: u32, parts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend(rel.to_be_bytes());
    for (marker, bytes) in parts {
        m.push(*marker);
        m.extend(bytes);
    }
    m
}

#[test]
fn every_operation_becomes_rows() {
    let mut rows =
        ChangeRows::new("public", "users", &columns(), &TypeOptions::default(), 100).unwrap();
    let messages = vec![
        begin(0x10, 7),
        relation(1, "other"),
        relation(2, "users"),
        change(b'I', 1, &[(b'N', tuple(&[V::Int(99), V::Text("ignored")]))]),
        change(b'I', 2, &[(b'N', tuple(&[V::Int(1), V::Text("a")]))]),
        change(b'U', 2, &[(b'N', tuple(&[V::Int(1), V::Unchanged]))]),
        change(
            b'U',
            2,
            &[
                (b'K', tuple(&[V::Int(1), V::Null])),
                (b'N', tuple(&[V::Int(2), V::Text("b")])),
            ],
        ),
        change(b'D', 2, &[(b'K', tuple(&[V::Int(2), V::Null]))]),
        commit(0x10),
        begin(0x20, 8),
        {
            let mut t = vec![b'T'];
            t.extend(1u32.to_be_bytes());
            t.push(0);
            t.extend(2u32.to_be_bytes());
            t
        },
        commit(0x20),
    ];
    for m in &messages {
        rows.push(m).unwrap();
    }
    let batch = rows.finish().unwrap().unwrap();
    assert!(rows.finish().unwrap().is_none());
    assert_eq!(rows.changes(), 6);
    let ops: Vec<&str> = batch
        .column(2)
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    assert_eq!(
        ops,
        ["insert", "update", "delete", "insert", "delete", "truncate"]
    );
    let ids = batch.column(0).as_primitive::<Int32Type>();
    assert_eq!(
        (0..6)
            .map(|i| ids.is_valid(i).then(|| ids.value(i)))
            .collect::<Vec<_>>(),
        [Some(1), Some(1), Some(1), Some(2), Some(2), None]
    );
    let names = batch.column(1).as_string::<i32>();
    assert!(names.is_null(1) && names.is_null(4) && names.value(3) == "b");
    let lsns: Vec<&str> = batch
        .column(3)
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    assert_eq!(lsns, ["0/10", "0/10", "0/10", "0/10", "0/10", "0/20"]);
    let xids = batch.column(4).as_primitive::<Int64Type>();
    assert_eq!(xids.value(5), 8);
    let times = batch.column(5).as_primitive::<TimestampMicrosecondType>();
    // 1 s after 2000-01-01 UTC.
    assert_eq!(times.value(0), 946_684_801_000_000);
    let unchanged = batch.column(6).as_list::<i32>();
    assert!(unchanged.is_null(0) && !unchanged.is_null(1));
    assert_eq!(
        unchanged.value(1).as_string::<i32>().value(0),
        "name",
        "the update left the TOASTed name out"
    );
}

#[test]
fn malformed_streams_are_errors() {
    let cols = columns();
    let opts = TypeOptions::default();
    let mut rows = ChangeRows::new("public", "users", &cols, &opts, 10).unwrap();
    // A change before Begin.
    rows.push(&relation(2, "users")).unwrap();
    let insert = change(b'I', 2, &[(b'N', tuple(&[V::Int(1), V::Text("a")]))]);
    assert!(rows.push(&insert).is_err());
    // A value of the wrong width for its column.
    let mut rows = ChangeRows::new("public", "users", &cols, &opts, 10).unwrap();
    rows.push(&begin(1, 1)).unwrap();
    rows.push(&relation(2, "users")).unwrap();
    let bad = change(b'I', 2, &[(b'N', tuple(&[V::Text("abcdefgh"), V::Null]))]);
    assert!(rows.push(&bad).is_err());
    // Garbage.
    let mut rows = ChangeRows::new("public", "users", &cols, &opts, 10).unwrap();
    assert!(rows.push(b"\x00\x01").is_err());
}

#[test]
fn corrupted_messages_are_errors_never_panics() {
    let valid = vec![
        begin(0x10, 7),
        relation(2, "users"),
        change(b'I', 2, &[(b'N', tuple(&[V::Int(1), V::Text("a")]))]),
        change(
            b'U',
            2,
            &[
                (b'K', tuple(&[V::Int(1), V::Null])),
                (b'N', tuple(&[V::Int(2), V::Unchanged])),
            ],
        ),
        change(b'D', 2, &[(b'O', tuple(&[V::Int(2), V::Text("b")]))]),
        commit(0x10),
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..2000 {
        let mut rows =
            ChangeRows::new("public", "users", &columns(), &TypeOptions::default(), 3).unwrap();
        for message in &valid {
            let mut bytes = message.clone();
            if next() % 3 == 0 && !bytes.is_empty() {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
                if next() % 4 == 0 {
                    bytes.truncate((next() as usize) % bytes.len());
                }
            }
            if rows.push(&bytes).is_err() {
                break;
            }
            while let Ok(Some(_)) = rows.next_batch() {}
        }
        while let Ok(Some(_)) = rows.finish() {}
    }
}
