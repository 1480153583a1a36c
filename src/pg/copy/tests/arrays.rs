//! Arrays: one and two dimensions, every element family, as JSON text, malformed.

use super::*;

fn list_values(a: &ListArray, i: usize) -> Vec<Option<i32>> {
    a.value(i)
        .as_primitive::<Int32Type>()
        .iter()
        .collect::<Vec<_>>()
}

#[test]
fn one_dimensional_arrays() {
    let c = array_col("a", 1007, 23, 1, -1);
    let b = scalar(
        &[c],
        &[
            Some(array(23, &[(3, 1)], &[Some(i32(1)), None, Some(i32(-3))])),
            Some(empty_array(23)),
            None,
            Some(array(23, &[(2, 0)], &[Some(i32(7)), Some(i32(8))])),
            Some(array(23, &[(1, -5)], &[None])),
        ],
    );
    let a = b.column(0).as_list::<i32>();
    assert_eq!(list_values(a, 0), vec![Some(1), None, Some(-3)]);
    assert!(a.value(1).is_empty() && !a.is_null(1));
    assert!(a.is_null(2));
    // Lower bounds are ignored.
    assert_eq!(list_values(a, 3), vec![Some(7), Some(8)]);
    assert_eq!(list_values(a, 4), vec![None]);
}

#[test]
fn two_dimensional_arrays() {
    let c = array_col("m", 1007, 23, 2, -1);
    let cells: Vec<_> = (1..=6).map(|v| Some(i32(v))).collect();
    let b = scalar(
        &[c],
        &[
            Some(array(23, &[(2, 1), (3, 1)], &cells)),
            Some(empty_array(23)),
            None,
            Some(array(23, &[(1, 1), (1, 1)], &[None])),
        ],
    );
    let outer = b.column(0).as_list::<i32>();
    let rows = outer.value(0);
    let rows = rows.as_list::<i32>();
    assert_eq!(rows.len(), 2);
    assert_eq!(list_values(rows, 0), vec![Some(1), Some(2), Some(3)]);
    assert_eq!(list_values(rows, 1), vec![Some(4), Some(5), Some(6)]);
    assert!(outer.value(1).is_empty());
    assert!(outer.is_null(2));
    let last = outer.value(3);
    assert_eq!(list_values(last.as_list::<i32>(), 0), vec![None]);
}

#[test]
fn array_dimension_mismatch_names_the_column() {
    let e = decode_err(
        &[array_col("tags", 1009, 25, 1, -1)],
        TypeOptions::default(),
        &[vec![Some(array(
            25,
            &[(1, 1), (2, 1)],
            &[Some(text("a")), Some(text("b"))],
        ))]],
    );
    let msg = e.to_string();
    assert!(
        msg.contains("column \"tags\"")
            && msg.contains("2 dimensions")
            && msg.contains("arrays = \"json\""),
        "{msg}"
    );
    // More than MAXDIM dimensions.
    let dims = [(1, 1); 7];
    let e = decode_err(
        &[array_col("a", 1007, 23, 1, -1)],
        TypeOptions::default(),
        &[vec![Some(array(23, &dims, &[Some(i32(1))]))]],
    );
    assert!(e.to_string().contains("dimension count"), "{e}");
}

#[test]
fn arrays_of_every_element_family() {
    let b = decode_one(
        &[
            array_col("t", 1009, 25, 1, -1),
            array_col("n", 1231, 1700, 1, numeric_typmod(6, 2)),
            array_col("u", 1231, 1700, 1, -1),
            array_col("ts", 1185, 1184, 1, -1),
            array_col("j", 3807, 3802, 1, -1),
            array_col("inet", 1041, 869, 1, -1),
            array_col("b", 1001, 17, 1, -1),
        ],
        TypeOptions::default(),
        &[vec![
            Some(array(25, &[(2, 1)], &[Some(text("x")), Some(text("ÿ"))])),
            Some(array(1700, &[(2, 1)], &[Some(numeric("1.25")), None])),
            Some(array(1700, &[(1, 1)], &[Some(numeric("NaN"))])),
            Some(array(1184, &[(1, 1)], &[Some(timestamp(i64::MAX))])),
            Some(array(3802, &[(1, 1)], &[Some(jsonb("[1]"))])),
            Some(array(25, &[(1, 1)], &[Some(text("10.0.0.1/32"))])),
            Some(array(17, &[(1, 1)], &[Some(vec![0, 0])])),
        ]],
    );
    let strings = |i: usize| -> Vec<Option<String>> {
        b.column(i)
            .as_list::<i32>()
            .value(0)
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect()
    };
    assert_eq!(strings(0), vec![Some("x".into()), Some("ÿ".into())]);
    let n = b.column(1).as_list::<i32>().value(0);
    let n = n.as_primitive::<Decimal128Type>();
    assert_eq!((n.value(0), n.is_null(1)), (125, true));
    assert_eq!(strings(2), vec![Some("NaN".into())]);
    let ts = b.column(3).as_list::<i32>().value(0);
    assert_eq!(
        ts.as_primitive::<TimestampMicrosecondType>().value(0),
        i64::MAX
    );
    assert_eq!(strings(4), vec![Some("[1]".into())]);
    assert_eq!(strings(5), vec![Some("10.0.0.1/32".into())]);
    let bytes = b.column(6).as_list::<i32>().value(0);
    assert_eq!(bytes.as_binary::<i32>().value(0), &[0, 0]);
}

#[test]
fn arrays_as_json_are_text() {
    let opts = TypeOptions {
        arrays_as_json: true,
        ..TypeOptions::default()
    };
    let b = decode_one(
        &[array_col("a", 1007, 23, 2, -1)],
        opts,
        &[vec![Some(text("[[1,2],[3,4]]"))]],
    );
    assert_eq!(b.column(0).as_string::<i32>().value(0), "[[1,2],[3,4]]");
}

#[test]
fn malformed_arrays_are_errors() {
    let c = [array_col("a", 1007, 23, 1, -1)];
    let cases: Vec<Vec<u8>> = vec![
        vec![0, 0, 0, 1],                             // truncated header
        array(23, &[(-1, 1)], &[]),                   // negative length
        array(23, &[(0, 1)], &[]),                    // zero length with ndim 1
        array(23, &[(3, 1)], &[Some(i32(1))]),        // too few elements
        array(23, &[(i32::MAX, 1)], &[Some(i32(1))]), // huge count
        {
            let mut v = array(23, &[(1, 1)], &[Some(i32(1))]);
            v.push(0); // trailing byte
            v
        },
        array(23, &[(1, 1)], &[Some(vec![1, 2])]), // wrong element width
        {
            let mut v = empty_array(23);
            v.push(9);
            v
        },
    ];
    for (i, bytes) in cases.into_iter().enumerate() {
        let e = decode_err(&c, TypeOptions::default(), &[vec![Some(bytes)]]);
        assert!(e.to_string().contains("column \"a\""), "case {i}: {e}");
    }
}
