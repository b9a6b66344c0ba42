//! Numbers as the spec writes them: unsigned integers, and decimals of digits and one `.`.

/// Parse an unsigned integer made only of ASCII digits (no sign, no spaces).
pub(crate) fn parse_uint(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse a non-negative decimal of digits with at most one `.` between digits
/// (`0.9`, `12`, `12.50`; not `+1`, `.5`, `1.`, `1e3`).
pub(crate) fn parse_decimal(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Write a decimal the canonical way: an integer when whole, otherwise no trailing zeros.
pub(crate) fn format_decimal(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.10}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_the_spec() {
        assert_eq!(parse_decimal("0.9"), Some(0.9));
        assert_eq!(parse_decimal("12"), Some(12.0));
        for bad in [
            "", ".5", "1.", "+1", "-1", "1e3", "1.2.3", " 1", "NaN", "inf",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        assert_eq!(format_decimal(90.0), "90");
        assert_eq!(format_decimal(22.5), "22.5");
        assert_eq!(format_decimal(0.125), "0.125");
    }

    #[test]
    fn integers_are_digits_only() {
        assert_eq!(parse_uint("007"), Some(7));
        assert_eq!(parse_uint("4294967296"), None);
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("+1"), None);
        assert_eq!(parse_uint(""), None);
    }
}
