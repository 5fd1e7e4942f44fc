//! Go's `%.5g` and `%.f` number formats, reproduced for the numbers `calicoctl ipam show`
//! prints (`DOMAIN.md` §2.5), so that pooltop's headless output can be diffed against
//! calicoctl's. Owns only number-to-text conversion; knows nothing about IPAM.

use std::fmt::Write as _;

/// Go's `fmt.Sprintf("%.5g", x)`: five significant digits, trailing zeros dropped,
/// exponent form (`1.2089e+24`) when the exponent is below -4 or at least the precision.
pub fn go_g5(x: f64) -> String {
    go_g(x, 5)
}

/// Go's `fmt.Sprintf("%.<precision>g", x)` for finite numbers (`NaN`/`±Inf` as Go spells them).
pub fn go_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let precision = precision.max(1);
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust's `{:.Ne}` rounds the exact binary value half-to-even, as Go's strconv does.
    let scientific = format!("{:.*e}", precision - 1, x.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let all_digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = all_digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let dp = exponent + 1;
    let prec = i64::try_from(precision).unwrap_or(i64::MAX);

    let mut eprec = prec;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if exponent < -4 || exponent >= eprec {
        let shown = usize::try_from(prec.min(nd)).unwrap_or(1);
        let mut out = String::from(sign);
        out.push_str(&digits[..1]);
        if shown > 1 {
            out.push('.');
            out.push_str(&digits[1..shown]);
        }
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{exp_sign}{:02}", exponent.abs());
        return out;
    }
    let used = if prec > dp { nd } else { prec };
    let decimals = usize::try_from((used - dp).max(0)).unwrap_or(0);
    format!("{sign}{}", fixed(digits, dp, decimals))
}

/// Digits `d1d2…` with the decimal point after `dp` of them, `decimals` places shown.
fn fixed(digits: &str, dp: i64, decimals: usize) -> String {
    let digit_at = |i: i64| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.as_bytes().get(i))
            .map_or('0', |b| char::from(*b))
    };
    let mut out = String::new();
    if dp <= 0 {
        out.push('0');
    } else {
        for i in 0..dp {
            out.push(digit_at(i));
        }
    }
    if decimals > 0 {
        out.push('.');
        for i in 0..i64::try_from(decimals).unwrap_or(0) {
            out.push(digit_at(dp + i));
        }
    }
    out
}

/// Go's `fmt.Sprintf("%.f", x)`: no decimals, ties to even on the exact binary value.
pub fn go_f0(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    format!("{x:.0}")
}

/// calicoctl's `%.5g (%.f%%)` cell: a count and its share of `capacity`.
pub fn count_with_percent(count: f64, capacity: f64) -> String {
    format!("{} ({}%)", go_g5(count), go_f0(100.0 * count / capacity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g5_matches_go_for_the_counts_calicoctl_prints() {
        // Each expectation is what Go prints for fmt.Sprintf("%.5g", x).
        for (x, go) in [
            (0.0, "0"),
            (1.0, "1"),
            (14.0, "14"),
            (64.0, "64"),
            (256.0, "256"),
            (65_536.0, "65536"),
            (99_999.0, "99999"),
            (100_000.0, "1e+05"),
            (123_456.0, "1.2346e+05"),
            (1_048_576.0, "1.0486e+06"),
            (1_200_000.0, "1.2e+06"),
            (16_777_216.0, "1.6777e+07"),
            (2f64.powi(80), "1.2089e+24"),
            (2f64.powi(128), "3.4028e+38"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5, "1.5"),
            (123.456, "123.46"),
            (-42.0, "-42"),
        ] {
            assert_eq!(go_g5(x), go, "%.5g of {x}");
        }
    }

    #[test]
    fn percent_rounds_like_go() {
        // 14 of 64 is 21.875%: Go's %.f gives 22; 2 of 16 is exactly 12.5%: ties go to even.
        assert_eq!(count_with_percent(14.0, 64.0), "14 (22%)");
        assert_eq!(go_f0(12.5), "12");
        assert_eq!(go_f0(13.5), "14");
        assert_eq!(count_with_percent(0.0, 256.0), "0 (0%)");
        assert_eq!(
            count_with_percent(2f64.powi(80), 2f64.powi(80)),
            "1.2089e+24 (100%)"
        );
    }
}
