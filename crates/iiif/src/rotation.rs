//! The rotation segment: optional mirroring, then clockwise degrees.

use crate::number::{format_decimal, parse_decimal};
use crate::RequestError;
use std::fmt;

/// A rotation as requested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rotation {
    /// `!`: mirror on the vertical axis before rotating.
    pub mirror: bool,
    /// Clockwise degrees in `[0, 360)`; a request for 360 is stored as 0.
    pub degrees: f64,
}

impl Rotation {
    /// Parse the rotation segment.
    pub fn parse(s: &str) -> Result<Self, RequestError> {
        let (mirror, body) = match s.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let degrees = parse_decimal(body).ok_or_else(|| {
            RequestError::syntax(
                "rotation",
                format!("expected degrees from 0 to 360, optionally after !: {s:?}"),
            )
        })?;
        if degrees > 360.0 {
            return Err(RequestError::syntax(
                "rotation",
                format!("{s:?} is over 360 degrees"),
            ));
        }
        // Kept as the canonical form writes it (ten decimals), so a request and its canonical URL
        // are one request: 359.99999999999 is written 360, which is 0 (found by the url fuzz target).
        let degrees = format_decimal(degrees).parse::<f64>().unwrap_or(degrees);
        let degrees = if degrees == 360.0 { 0.0 } else { degrees };
        Ok(Rotation { mirror, degrees })
    }

    /// Whether the rotation is a multiple of 90 degrees.
    pub fn is_right_angle(&self) -> bool {
        self.degrees % 90.0 == 0.0
    }
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mirror {
            f.write_str("!")?;
        }
        f.write_str(&format_decimal(self.degrees))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalises() {
        for (s, canon) in [
            ("0", "0"),
            ("90", "90"),
            ("!180", "!180"),
            ("22.50", "22.5"),
            ("360", "0"),
            ("!0", "!0"),
            ("090", "90"),
            ("359.999999999999", "0"),
            ("!359.99999999994", "!359.9999999999"),
        ] {
            assert_eq!(Rotation::parse(s).unwrap().to_string(), canon, "{s}");
        }
    }

    #[test]
    fn refuses_out_of_range_and_junk() {
        for s in [
            "", "-90", "361", "360.5", "!!90", "90!", "abc", "1e2", ".5", "!",
        ] {
            assert!(Rotation::parse(s).is_err(), "{s}");
        }
    }
}
