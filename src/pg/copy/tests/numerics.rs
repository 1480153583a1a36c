//! Numerics: Decimal128 and its limits, NaN, out of range, unconstrained numeric as text.

use super::*;

#[test]
fn numeric_decimal128() {
    let c = col("price", 1700, numeric_typmod(12, 2));
    let literals = [
        "0.00",
        "12345.67",
        "-12345.67",
        "0.01",
        "9999999999.99",
        "-9999999999.99",
        "100.00",
        "1.50",
    ];
    let mut cells: Vec<_> = literals.iter().map(|l| Some(numeric(l))).collect();
    cells.push(None);
    let b = scalar(&[c], &cells);
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!(a.precision(), 12);
    assert_eq!(a.scale(), 2);
    let expected = [
        0i128,
        1_234_567,
        -1_234_567,
        1,
        999_999_999_999,
        -999_999_999_999,
        10_000,
        150,
    ];
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(a.value(i), *e, "{}", literals[i]);
        assert_eq!(a.value_as_string(i), literals[i]);
    }
    assert!(a.is_null(8));
}

#[test]
fn numeric_small_and_large_weights() {
    let c = col("n", 1700, numeric_typmod(20, 8));
    let b = scalar(
        &[c],
        &[
            Some(numeric("0.0001")),
            Some(numeric("0.00000001")),
            Some(numeric("123456789012.12345678")),
            Some(numeric("100000000000")),
        ],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!(a.value(0), 10_000);
    assert_eq!(a.value(1), 1);
    assert_eq!(a.value(2), 12_345_678_901_212_345_678);
    assert_eq!(a.value(3), 10_000_000_000_000_000_000);
}

#[test]
fn numeric_38_and_39_digits() {
    let nines38 = "9".repeat(38);
    let b = scalar(
        &[col("n", 1700, numeric_typmod(38, 0))],
        &[
            Some(numeric(&nines38)),
            Some(numeric(&format!("-{nines38}"))),
        ],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!(a.value(0), 10i128.pow(38) - 1);
    assert_eq!(a.value(1), -(10i128.pow(38) - 1));

    let v39 = "123456789012345678901234567890123456789";
    let b = scalar(
        &[col("n", 1700, numeric_typmod(41, 2))],
        &[Some(numeric(&format!("{v39}.25"))), Some(numeric("-0.01"))],
    );
    let a = b.column(0).as_primitive::<Decimal256Type>();
    assert_eq!(a.precision(), 41);
    assert_eq!(a.value(0), i256::from_string(&format!("{v39}25")).unwrap());
    assert_eq!(a.value(1), i256::from_i128(-1));
    assert_eq!(a.value_as_string(0), format!("{v39}.25"));
}

#[test]
fn numeric_negative_scale_and_scale_above_precision() {
    // numeric(5,-2) → Decimal128(7,0); numeric(2,5) → Decimal128(5,5).
    let b = scalar(
        &[col("n", 1700, numeric_typmod(5, -2))],
        &[Some(numeric("9999900")), Some(numeric("-1200"))],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!((a.precision(), a.scale()), (7, 0));
    assert_eq!(a.value(0), 9_999_900);
    assert_eq!(a.value(1), -1200);
    let b = scalar(
        &[col("n", 1700, numeric_typmod(2, 5))],
        &[Some(numeric("0.00099"))],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!((a.precision(), a.scale()), (5, 5));
    assert_eq!(a.value(0), 99);
}

#[test]
fn numeric_nan_in_decimal_is_an_error_or_null() {
    let c = col("price", 1700, numeric_typmod(12, 2));
    for special in ["NaN", "Infinity", "-Infinity"] {
        let e = decode_err(
            std::slice::from_ref(&c),
            TypeOptions::default(),
            &[vec![Some(numeric("1.00"))], vec![Some(numeric(special))]],
        );
        assert_eq!(
            e.to_string(),
            format!(
                "column \"price\": numeric {special} cannot be stored in Decimal128(12,2); set \
                 numeric_nan = \"null\" to read it as NULL, or select the column as text (row 2)"
            )
        );
    }
    let opts = TypeOptions {
        numeric_nan_as_null: true,
        ..TypeOptions::default()
    };
    let b = decode_one(
        &[c, col("wide", 1700, numeric_typmod(50, 0))],
        opts,
        &[
            vec![Some(numeric("NaN")), Some(numeric("Infinity"))],
            vec![Some(numeric("2.50")), Some(numeric("-Infinity"))],
        ],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert!(a.is_null(0) && a.value(1) == 250);
    assert_eq!(b.column(1).null_count(), 2);
    let e = decode_err(
        &[col("wide", 1700, numeric_typmod(50, 0))],
        TypeOptions::default(),
        &[vec![Some(numeric("NaN"))]],
    );
    assert!(e.to_string().contains("Decimal256(50,0)"), "{e}");
}

#[test]
fn numeric_out_of_range_is_an_error() {
    let e = decode_err(
        &[col("n", 1700, numeric_typmod(4, 2))],
        TypeOptions::default(),
        &[vec![Some(numeric("123.45"))]],
    );
    assert!(e.to_string().contains("does not fit"), "{e}");
}

#[test]
fn unconstrained_numeric_is_exact_text() {
    let literals = [
        "0",
        "1",
        "-1",
        "0.0001",
        "12345.678900",
        "-0.5",
        "100000000000000000000000000000000000000000000000000",
        "3.14159265358979323846264338327950288419716939937510",
        "NaN",
        "Infinity",
        "-Infinity",
        "10000",
        "0.10",
    ];
    let mut cells: Vec<_> = literals.iter().map(|l| Some(numeric(l))).collect();
    cells.push(None);
    let b = scalar(&[col("n", 1700, -1)], &cells);
    let a = b.column(0).as_string::<i32>();
    for (i, l) in literals.iter().enumerate() {
        assert_eq!(a.value(i), *l);
    }
    assert!(a.is_null(literals.len()));
    // Wider than 76 digits → Utf8 too.
    let b = scalar(
        &[col("n", 1700, numeric_typmod(100, 3))],
        &[Some(numeric("1.250"))],
    );
    assert_eq!(b.column(0).as_string::<i32>().value(0), "1.250");
}
