//! The pgoutput parser against hand-built messages, and hostile bytes.

use super::*;

fn relation_bytes() -> Vec<u8> {
    let mut m = vec![b'R'];
    m.extend(16385u32.to_be_bytes());
    m.extend(b"public\0users\0");
    m.push(b'd');
    m.extend(2u16.to_be_bytes());
    m.push(1);
    m.extend(b"id\0");
    m.extend(20u32.to_be_bytes());
    m.extend((-1i32).to_be_bytes());
    m.push(0);
    m.extend(b"name\0");
    m.extend(25u32.to_be_bytes());
    m.extend((-1i32).to_be_bytes());
    m
}

fn tuple_bytes(m: &mut Vec<u8>) {
    m.extend(3u16.to_be_bytes());
    m.push(b'b');
    m.extend(8i32.to_be_bytes());
    m.extend(7i64.to_be_bytes());
    m.push(b'n');
    m.push(b'u');
}

#[test]
fn every_message_kind_parses() {
    let mut begin = vec![b'B'];
    begin.extend(0x1_0000_0010u64.to_be_bytes());
    begin.extend(5i64.to_be_bytes());
    begin.extend(42u32.to_be_bytes());
    assert_eq!(
        parse(&begin).unwrap(),
        Message::Begin {
            final_lsn: 0x1_0000_0010,
            commit_time: 5,
            xid: 42
        }
    );

    let mut commit = vec![b'C', 0];
    commit.extend(1u64.to_be_bytes());
    commit.extend(2u64.to_be_bytes());
    commit.extend(3i64.to_be_bytes());
    assert_eq!(
        parse(&commit).unwrap(),
        Message::Commit {
            commit_lsn: 1,
            end_lsn: 2,
            commit_time: 3
        }
    );

    let bytes = relation_bytes();
    let Message::Relation(rel) = parse(&bytes).unwrap() else {
        panic!("not a relation")
    };
    assert_eq!((rel.oid, rel.schema, rel.name), (16385, "public", "users"));
    assert!(rel.columns[0].key && !rel.columns[1].key);
    assert_eq!(rel.columns[1].name, "name");

    let mut insert = vec![b'I'];
    insert.extend(16385u32.to_be_bytes());
    insert.push(b'N');
    tuple_bytes(&mut insert);
    let Message::Insert { relation, new } = parse(&insert).unwrap() else {
        panic!("not an insert")
    };
    assert_eq!(relation, 16385);
    assert_eq!(
        new.values,
        vec![
            Value::Binary(&7i64.to_be_bytes()),
            Value::Null,
            Value::Unchanged
        ]
    );

    let mut update = vec![b'U'];
    update.extend(16385u32.to_be_bytes());
    update.push(b'K');
    tuple_bytes(&mut update);
    update.push(b'N');
    tuple_bytes(&mut update);
    assert!(matches!(
        parse(&update).unwrap(),
        Message::Update { old: Some(_), .. }
    ));

    let mut delete = vec![b'D'];
    delete.extend(16385u32.to_be_bytes());
    delete.push(b'O');
    tuple_bytes(&mut delete);
    assert!(matches!(parse(&delete).unwrap(), Message::Delete { .. }));

    let mut truncate = vec![b'T'];
    truncate.extend(2u32.to_be_bytes());
    truncate.push(0);
    truncate.extend(1u32.to_be_bytes());
    truncate.extend(2u32.to_be_bytes());
    assert_eq!(
        parse(&truncate).unwrap(),
        Message::Truncate {
            relations: vec![1, 2]
        }
    );

    let mut origin = vec![b'O'];
    origin.extend(9u64.to_be_bytes());
    origin.extend(b"node\0");
    assert_eq!(parse(&origin).unwrap(), Message::Origin);

    let mut ty = vec![b'Y'];
    ty.extend(90000u32.to_be_bytes());
    ty.extend(b"public\0mood\0");
    assert_eq!(parse(&ty).unwrap(), Message::Type);
}

#[test]
fn hostile_bytes_are_errors_not_panics() {
    let mut insert = vec![b'I'];
    insert.extend(16385u32.to_be_bytes());
    insert.push(b'N');
    tuple_bytes(&mut insert);
    // Every truncation of a valid message, and every single-byte corruption, parses or fails.
    for end in 0..insert.len() {
        assert!(parse(&insert[..end]).is_err(), "prefix of {end} bytes");
    }
    for at in 0..insert.len() {
        for byte in [0u8, 0x7f, 0xff, b'b', b't'] {
            let mut bad = insert.clone();
            bad[at] = byte;
            let _ = parse(&bad);
        }
    }
    let mut long = insert.clone();
    long.push(0);
    assert!(parse(&long).unwrap_err().0.contains("after the message"));
    // A length past the end, and a negative one.
    let mut huge = vec![b'I', 0, 0, 0, 1, b'N', 0, 1, b't'];
    huge.extend(i32::MAX.to_be_bytes());
    assert!(parse(&huge).is_err());
    let mut negative = vec![b'I', 0, 0, 0, 1, b'N', 0, 1, b't'];
    negative.extend((-5i32).to_be_bytes());
    assert!(parse(&negative).is_err());
    assert!(parse(b"Z").is_err());
    assert!(parse(b"").is_err());
}

#[test]
fn lsns_round_trip_through_text() {
    for lsn in [0u64, 0x16_B374_D848, u64::MAX, 0x1_0000_0000] {
        assert_eq!(parse_lsn(&format_lsn(lsn)), Some(lsn));
    }
    assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
    for bad in [
        "",
        "0",
        "/1",
        "1/",
        "G/1",
        "+1/1",
        "1/2/3",
        "123456789/0",
        " 1/1",
    ] {
        assert_eq!(parse_lsn(bad), None, "{bad}");
    }
}
