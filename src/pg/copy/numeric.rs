//! PostgreSQL `numeric` binary form (`numeric_send`) → Arrow decimals or PostgreSQL's exact text.
//!
//! The wire form: `ndigits` i16, `weight` i16, `sign` u16 (0x0000 positive, 0x4000 negative,
//! 0xC000 NaN, 0xD000 +Infinity, 0xF000 -Infinity), `dscale` u16, then `ndigits` base-10000
//! digits (u16 each, most significant first). The value is Σ digit[i] · 10000^(weight − i).

use arrow::datatypes::i256;

use super::value::ValueError;

/// Largest display scale PostgreSQL produces (`NUMERIC_DSCALE_MAX`).
const DSCALE_MAX: u16 = 0x3FFF;

/// A parsed numeric value, borrowing its digits from the input.
#[derive(Debug, Clone, Copy)]
pub(super) enum Numeric<'a> {
    /// A finite value.
    Finite(Finite<'a>),
    /// NaN or an infinity.
    Special(Special),
}

/// A non-finite numeric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    NaN,
    PosInfinity,
    NegInfinity,
}

impl Special {
    /// PostgreSQL's text for it.
    pub(super) fn text(self) -> &'static str {
        match self {
            Self::NaN => "NaN",
            Self::PosInfinity => "Infinity",
            Self::NegInfinity => "-Infinity",
        }
    }
}

/// A finite numeric: validated base-10000 digits (big-endian u16 pairs), weight, sign, scale.
#[derive(Debug, Clone, Copy)]
pub(super) struct Finite<'a> {
    digits: &'a [u8],
    weight: i16,
    negative: bool,
    dscale: u16,
}

/// Parses and validates a numeric's binary form.
pub(super) fn parse(bytes: &[u8]) -> Result<Numeric<'_>, ValueError> {
    let Some((header, digits)) = bytes.split_first_chunk::<8>() else {
        return Err(ValueError::NumericFormat("shorter than its 8-byte header"));
    };
    let [n0, n1, w0, w1, s0, s1, d0, d1] = *header;
    let ndigits = i16::from_be_bytes([n0, n1]);
    let weight = i16::from_be_bytes([w0, w1]);
    let negative = match u16::from_be_bytes([s0, s1]) {
        0x0000 => false,
        0x4000 => true,
        0xC000 => return Ok(Numeric::Special(Special::NaN)),
        0xD000 => return Ok(Numeric::Special(Special::PosInfinity)),
        0xF000 => return Ok(Numeric::Special(Special::NegInfinity)),
        _ => return Err(ValueError::NumericFormat("invalid sign")),
    };
    let dscale = u16::from_be_bytes([d0, d1]);
    if dscale > DSCALE_MAX {
        return Err(ValueError::NumericFormat("display scale out of range"));
    }
    let ndigits =
        usize::try_from(ndigits).map_err(|_| ValueError::NumericFormat("negative digit count"))?;
    if digits.len() != ndigits * 2 {
        return Err(ValueError::NumericFormat(
            "digit count does not match the value's length",
        ));
    }
    if digits
        .chunks_exact(2)
        .any(|d| u16::from_be_bytes([d[0], d[1]]) > 9999)
    {
        return Err(ValueError::NumericFormat("base-10000 digit above 9999"));
    }
    Ok(Numeric::Finite(Finite {
        digits,
        weight,
        negative,
        dscale,
    }))
}

impl Numeric<'_> {
    /// Appends PostgreSQL's text form (`numeric_out`) to `out`.
    pub(super) fn write_text(&self, out: &mut Vec<u8>) {
        match self {
            Self::Special(special) => out.extend_from_slice(special.text().as_bytes()),
            Self::Finite(finite) => finite.write_text(out),
        }
    }
}

/// An unsigned accumulator for a decimal's magnitude.
trait Magnitude: Copy + PartialOrd {
    const ZERO: Self;
    fn digit(d: u16) -> Self;
    /// 10^e, or None when it does not fit.
    fn pow10(e: usize) -> Option<Self>;
    fn checked_mul(self, other: Self) -> Option<Self>;
    fn checked_add(self, other: Self) -> Option<Self>;
}

const POW10_U64: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

const POW10_U128: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

const POW10_I256: [i256; 77] = {
    let mut table = [i256::ONE; 77];
    let ten = i256::from_i128(10);
    let mut i = 1;
    while i < 77 {
        table[i] = table[i - 1].wrapping_mul(ten);
        i += 1;
    }
    table
};

impl Magnitude for u64 {
    const ZERO: Self = 0;
    fn digit(d: u16) -> Self {
        Self::from(d)
    }
    fn pow10(e: usize) -> Option<Self> {
        POW10_U64.get(e).copied()
    }
    fn checked_mul(self, other: Self) -> Option<Self> {
        u64::checked_mul(self, other)
    }
    fn checked_add(self, other: Self) -> Option<Self> {
        u64::checked_add(self, other)
    }
}

impl Magnitude for u128 {
    const ZERO: Self = 0;
    fn digit(d: u16) -> Self {
        Self::from(d)
    }
    fn pow10(e: usize) -> Option<Self> {
        POW10_U128.get(e).copied()
    }
    fn checked_mul(self, other: Self) -> Option<Self> {
        u128::checked_mul(self, other)
    }
    fn checked_add(self, other: Self) -> Option<Self> {
        u128::checked_add(self, other)
    }
}

impl Magnitude for i256 {
    const ZERO: Self = i256::ZERO;
    fn digit(d: u16) -> Self {
        i256::from_i128(i128::from(d))
    }
    fn pow10(e: usize) -> Option<Self> {
        POW10_I256.get(e).copied()
    }
    fn checked_mul(self, other: Self) -> Option<Self> {
        i256::checked_mul(self, other)
    }
    fn checked_add(self, other: Self) -> Option<Self> {
        i256::checked_add(self, other)
    }
}

impl Finite<'_> {
    #[inline]
    fn digits(&self) -> impl Iterator<Item = u16> + '_ {
        self.digits
            .chunks_exact(2)
            .map(|d| u16::from_be_bytes([d[0], d[1]]))
    }

    /// The digit at base-10000 position `d` (0 = the first stored digit), 0 outside the stored
    /// digits.
    #[inline]
    fn digit_at(&self, d: i64) -> u16 {
        usize::try_from(d)
            .ok()
            .and_then(|d| self.digits.get(d * 2..d * 2 + 2))
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// |value| · 10^scale as an integer, checked to be below 10^precision.
    #[inline]
    fn magnitude<M: Magnitude>(&self, precision: u8, scale: i8) -> Result<M, ValueError> {
        let out_of_range = || ValueError::NumericRange {
            arrow_type: format!("Decimal({precision},{scale})"),
        };
        let mut acc = M::ZERO;
        let first_exponent = 4 * i64::from(self.weight) + i64::from(scale);
        for (i, d) in self.digits().enumerate() {
            if d == 0 {
                continue;
            }
            // digit · 10^(4·(weight − i) + scale); i < 2^30 (the field is at most 1 GiB).
            let exponent = first_exponent - 4 * i as i64;
            let term = if exponent >= 0 {
                let pow = usize::try_from(exponent)
                    .ok()
                    .and_then(M::pow10)
                    .ok_or_else(out_of_range)?;
                M::digit(d).checked_mul(pow).ok_or_else(out_of_range)?
            } else {
                // Only the part of a digit above the scale may be non-zero.
                let divisor = match exponent {
                    -1 => 10,
                    -2 => 100,
                    -3 => 1000,
                    _ => u16::MAX,
                };
                if d % divisor != 0 {
                    return Err(ValueError::NumericFormat(
                        "more fractional digits than the column's scale",
                    ));
                }
                M::digit(d / divisor)
            };
            acc = acc.checked_add(term).ok_or_else(out_of_range)?;
        }
        let limit = M::pow10(usize::from(precision)).ok_or_else(out_of_range)?;
        if acc >= limit {
            return Err(out_of_range());
        }
        Ok(acc)
    }

    /// The value as a `Decimal128(precision, scale)` integer (precision ≤ 38, 0 ≤ scale).
    #[inline]
    pub(super) fn to_i128(self, precision: u8, scale: i8) -> Result<i128, ValueError> {
        let magnitude = if precision <= 18 {
            i128::from(self.magnitude::<u64>(precision, scale)?)
        } else {
            // Below 10^precision ≤ 10^38 < i128::MAX.
            i128::try_from(self.magnitude::<u128>(precision, scale)?).map_err(|_| {
                ValueError::NumericRange {
                    arrow_type: format!("Decimal128({precision},{scale})"),
                }
            })?
        };
        Ok(if self.negative { -magnitude } else { magnitude })
    }

    /// The value as a `Decimal256(precision, scale)` integer (precision ≤ 76, 0 ≤ scale).
    pub(super) fn to_i256(self, precision: u8, scale: i8) -> Result<i256, ValueError> {
        let magnitude = self.magnitude::<i256>(precision, scale)?;
        // Below 10^76 < i256::MAX, so negation cannot overflow.
        Ok(if self.negative {
            magnitude.wrapping_neg()
        } else {
            magnitude
        })
    }

    /// PostgreSQL's `get_str_from_var`: integer part without leading zeros, then exactly
    /// `dscale` fractional digits.
    fn write_text(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        let weight = i64::from(self.weight);
        if weight < 0 {
            out.push(b'0');
        } else {
            for d in 0..=weight {
                let digit = self.digit_at(d);
                let text = four_digits(digit);
                if d == 0 {
                    // Suppress the first digit's leading zeros (but keep its last digit).
                    let skip = text[..3].iter().take_while(|&&c| c == b'0').count();
                    out.extend_from_slice(&text[skip..]);
                } else {
                    out.extend_from_slice(&text);
                }
            }
        }
        let dscale = usize::from(self.dscale);
        if dscale > 0 {
            out.push(b'.');
            let end = out.len() + dscale;
            let mut d = weight + 1;
            while out.len() < end {
                out.extend_from_slice(&four_digits(self.digit_at(d)));
                d += 1;
            }
            out.truncate(end);
        }
    }
}

/// A base-10000 digit as four ASCII decimal digits.
#[inline]
fn four_digits(digit: u16) -> [u8; 4] {
    // Digits are validated ≤ 9999, so each quotient is one decimal digit.
    [
        b'0' + (digit / 1000 % 10) as u8,
        b'0' + (digit / 100 % 10) as u8,
        b'0' + (digit / 10 % 10) as u8,
        b'0' + (digit % 10) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numeric_send of a finite value.
    fn encode(negative: bool, weight: i16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    fn text(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        parse(bytes).unwrap().write_text(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn i128_of(bytes: &[u8], p: u8, s: i8) -> Result<i128, ValueError> {
        match parse(bytes)? {
            Numeric::Finite(f) => f.to_i128(p, s),
            Numeric::Special(_) => panic!("special"),
        }
    }

    #[test]
    fn text_forms() {
        assert_eq!(text(&encode(false, 0, 0, &[])), "0");
        assert_eq!(text(&encode(false, 0, 2, &[])), "0.00");
        assert_eq!(text(&encode(false, 1, 2, &[1, 2345, 6700])), "12345.67");
        assert_eq!(text(&encode(true, 1, 2, &[1, 2345, 6700])), "-12345.67");
        assert_eq!(text(&encode(false, -1, 4, &[1])), "0.0001");
        assert_eq!(text(&encode(false, -2, 8, &[1])), "0.00000001");
        assert_eq!(text(&encode(false, 2, 0, &[1])), "100000000");
        assert_eq!(text(&encode(false, 0, 3, &[7, 5000])), "7.500");
        assert_eq!(text(&encode(false, 0, 1, &[42])), "42.0");
        assert_eq!(text(&encode(false, 0, 0, &[9999])), "9999");
        assert_eq!(text(&encode(false, 0, 6, &[3, 1415, 9200])), "3.141592");
        // 39 digits
        assert_eq!(
            text(&encode(
                false,
                9,
                0,
                &[123, 4567, 8901, 2345, 6789, 123, 4567, 8901, 2345, 6789]
            )),
            "123456789012345678901234567890123456789"
        );
    }

    #[test]
    fn special_values() {
        let special = |sign: u16| {
            let mut b = vec![0, 0, 0, 0];
            b.extend_from_slice(&sign.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b
        };
        assert_eq!(text(&special(0xC000)), "NaN");
        assert_eq!(text(&special(0xD000)), "Infinity");
        assert_eq!(text(&special(0xF000)), "-Infinity");
        assert!(parse(&special(0x8000)).is_err());
    }

    #[test]
    fn decimals() {
        let v = encode(false, 1, 2, &[1, 2345, 6700]);
        assert_eq!(i128_of(&v, 12, 2), Ok(1_234_567));
        assert_eq!(i128_of(&v, 20, 4), Ok(123_456_700));
        // Precision too small.
        assert!(matches!(
            i128_of(&v, 6, 2),
            Err(ValueError::NumericRange { .. })
        ));
        // Scale too small for the digits.
        assert!(matches!(
            i128_of(&v, 12, 1),
            Err(ValueError::NumericFormat(_))
        ));
        let tiny = encode(false, -1, 4, &[1]);
        assert_eq!(i128_of(&tiny, 10, 4), Ok(1));
        assert_eq!(i128_of(&tiny, 10, 6), Ok(100));
        let neg = encode(true, 0, 0, &[5]);
        assert_eq!(i128_of(&neg, 1, 0), Ok(-5));
        // 38 nines.
        let mut digits = vec![99];
        digits.extend(std::iter::repeat_n(9999, 9));
        let max38 = encode(false, 9, 0, &digits);
        assert_eq!(i128_of(&max38, 38, 0), Ok(10i128.pow(38) - 1));
        assert!(i128_of(&max38, 37, 0).is_err());
        // Huge weight does not overflow anything.
        assert!(i128_of(&encode(false, i16::MAX, 0, &[1]), 38, 0).is_err());
        assert!(i128_of(&encode(false, i16::MIN, 0, &[1]), 38, 0).is_err());
    }

    #[test]
    fn decimal256() {
        // 10^60 + 1 at scale 0.
        let mut digits = vec![1];
        digits.extend(std::iter::repeat_n(0, 14));
        digits.push(1);
        let v = encode(false, 15, 0, &digits);
        let Numeric::Finite(f) = parse(&v).unwrap() else {
            panic!()
        };
        let expected = POW10_I256[60].wrapping_add(i256::ONE);
        assert_eq!(f.to_i256(76, 0), Ok(expected));
        assert_eq!(f.to_i256(61, 0), Ok(expected));
        assert!(f.to_i256(60, 0).is_err());
        let bytes = encode(true, 0, 2, &[3, 1400]);
        let Numeric::Finite(n) = parse(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(n.to_i256(40, 2), Ok(i256::from_i128(-314)));
    }

    #[test]
    fn malformed() {
        assert!(parse(&[0, 1]).is_err());
        // ndigits says 2, one digit present.
        assert!(parse(&encode(false, 0, 0, &[1, 2])[..10]).is_err());
        assert!(parse(&encode(false, 0, 0, &[10_000])).is_err());
        let mut negative_count = encode(false, 0, 0, &[]);
        negative_count[0] = 0xFF;
        assert!(parse(&negative_count).is_err());
        assert!(parse(&encode(false, 0, 0x4000, &[])).is_err());
    }
}
