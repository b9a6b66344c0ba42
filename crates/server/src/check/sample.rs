//! The sample request rendered for every image and the output size it must have.

/// The size segment and expected output size for an image of `width`x`height` whose longest
/// side is brought down to `longest` (never upscaled): `,N` or `N,` when larger, `max` otherwise.
pub fn sample_size(width: u32, height: u32, longest: u32) -> (String, u32, u32) {
    let longest = longest.max(1);
    if height >= width && height > longest {
        match scaled(width, longest, height) {
            0 => (format!("1,{longest}"), 1, longest),
            w => (format!(",{longest}"), w, longest),
        }
    } else if width > height && width > longest {
        match scaled(height, longest, width) {
            0 => (format!("{longest},1"), longest, 1),
            h => (format!("{longest},"), longest, h),
        }
    } else {
        ("max".to_string(), width, height)
    }
}

/// `side * num / den`, rounded to the nearest pixel (0 when under half a pixel): a side that
/// would vanish is then requested explicitly as one pixel (`w,h`).
fn scaled(side: u32, num: u32, den: u32) -> u32 {
    let v = (u64::from(side) * u64::from(num) * 2 + u64::from(den)) / (2 * u64::from(den).max(1));
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Whether an output of `got` matches `want`, allowing one pixel of rounding on each side
/// (servers round the computed side differently).
pub fn size_matches(got: (u32, u32), want: (u32, u32)) -> bool {
    got.0.abs_diff(want.0) <= 1 && got.1.abs_diff(want.1) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_long_side_and_never_upscales() {
        assert_eq!(sample_size(2000, 1000, 1000), ("1000,".into(), 1000, 500));
        assert_eq!(sample_size(1000, 3000, 1000), (",1000".into(), 333, 1000));
        assert_eq!(sample_size(32540, 255, 1000), ("1000,".into(), 1000, 8));
        assert_eq!(sample_size(300, 200, 1000), ("max".into(), 300, 200));
        assert_eq!(sample_size(100_000, 1, 1000), ("1000,1".into(), 1000, 1));
        assert_eq!(sample_size(8363, 1, 1000), ("1000,1".into(), 1000, 1));
    }

    #[test]
    fn tolerates_one_pixel() {
        assert!(size_matches((333, 1000), (334, 1000)));
        assert!(!size_matches((330, 1000), (334, 1000)));
    }
}
