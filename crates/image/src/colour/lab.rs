//! CIE L*a*b* (D50, as TIFF stores it) to sRGB.

/// One L*a*b* pixel (L in 0–100, a and b in about −128–127) to sRGB bytes.
pub fn lab_to_srgb(l: f64, a: f64, b: f64) -> [u8; 3] {
    // Lab → XYZ relative to D50.
    let fy = (l + 16.0) / 116.0;
    let fx = fy + a / 500.0;
    let fz = fy - b / 200.0;
    let inv = |t: f64| {
        if t > 6.0 / 29.0 {
            t * t * t
        } else {
            3.0 * (6.0f64 / 29.0).powi(2) * (t - 4.0 / 29.0)
        }
    };
    let (x, y, z) = (0.9642 * inv(fx), inv(fy), 0.8249 * inv(fz));
    // XYZ (D50) → linear sRGB (D65), Bradford-adapted matrix.
    let r = 3.1338561 * x - 1.6168667 * y - 0.4906146 * z;
    let g = -0.9787684 * x + 1.9161415 * y + 0.0334540 * z;
    let bl = 0.0719453 * x - 0.2289914 * y + 1.4052427 * z;
    let encode = |c: f64| {
        let c = c.clamp(0.0, 1.0);
        let v = if c <= 0.0031308 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        };
        (v * 255.0).round() as u8
    };
    [encode(r), encode(g), encode(bl)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_black_and_red() {
        assert_eq!(lab_to_srgb(100.0, 0.0, 0.0), [255, 255, 255]);
        assert_eq!(lab_to_srgb(0.0, 0.0, 0.0), [0, 0, 0]);
        // sRGB red is about L 54.3, a 80.8, b 69.9 in D50.
        let [r, g, b] = lab_to_srgb(54.29, 80.8, 69.89);
        assert!(r > 250 && g < 10 && b < 10, "{r} {g} {b}");
    }
}
