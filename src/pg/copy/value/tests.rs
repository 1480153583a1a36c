//! Unit tests of single-value decoding.
use super::*;

#[test]
fn uuid_text_is_canonical() {
    let raw = [
        0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a,
        0x11,
    ];
    assert_eq!(&uuid_text(&raw), b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
}

#[test]
fn char_text_matches_postgresql_16_charout() {
    let text = |byte| {
        let mut out = Vec::new();
        char_text(byte, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(text(0), "");
    assert_eq!(text(b'a'), "a");
    assert_eq!(text(b' '), " ");
    assert_eq!(text(b'\\'), "\\");
    assert_eq!(text(0x7f), "\u{7f}");
    assert_eq!(text(0x80), r"\200");
    assert_eq!(text(0xc3), r"\303");
    assert_eq!(text(0xfc), r"\374");
    assert_eq!(text(0xff), r"\377");
}

#[test]
fn char_values_decode_from_one_byte() {
    let mut builder = ValueBuilder::new(ValueKind::Char, 4);
    for value in [Some(&b"x"[..]), Some(&[0xc3][..]), Some(&[0][..]), None] {
        builder.append(value).unwrap();
    }
    assert_eq!(
        builder.append(Some(b"ab")),
        Err(ValueError::Length {
            type_name: "\"char\"",
            expected: 1,
            found: 2
        })
    );
    let array = builder.finish(&DataType::Utf8, 0).unwrap();
    let strings = array.as_any().downcast_ref::<StringArray>().unwrap();
    let got: Vec<Option<&str>> = strings.iter().collect();
    assert_eq!(got, vec![Some("x"), Some(r"\303"), Some(""), None]);
}

#[test]
fn date_and_timestamp_edges() {
    assert_eq!(date(0), Ok(10_957));
    assert_eq!(date(i32::MAX), Ok(i32::MAX));
    assert_eq!(date(i32::MIN), Ok(i32::MIN));
    assert_eq!(date(i32::MAX - 1), Err(ValueError::DateRange(i32::MAX - 1)));
    assert_eq!(timestamp(0), Ok(EPOCH_MICROS));
    assert_eq!(timestamp(i64::MIN), Ok(i64::MIN));
    assert_eq!(
        timestamp(i64::MAX - 1),
        Err(ValueError::TimestampRange(i64::MAX - 1))
    );
}
