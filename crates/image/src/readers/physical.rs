//! The physical size of a pixel, where a file states one in real units (a TIFF's resolution tags,
//! an OME-XML `PhysicalSizeX`/`Y`), for the IIIF physical dimensions service.

use tessera_iiif::PhysicalUnits;

/// A length unit a file may state pixel sizes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// Inches.
    Inch,
    /// Metres.
    Metre,
    /// Centimetres.
    Centimetre,
    /// Millimetres.
    Millimetre,
    /// Micrometres.
    Micrometre,
    /// Nanometres.
    Nanometre,
}

impl LengthUnit {
    /// The unit an OME-XML `PhysicalSizeXUnit` names (`µm` when absent, as the schema says).
    pub fn from_ome(name: &str) -> Option<Self> {
        Some(match name {
            "in" => LengthUnit::Inch,
            "m" => LengthUnit::Metre,
            "cm" => LengthUnit::Centimetre,
            "mm" => LengthUnit::Millimetre,
            "µm" | "μm" | "um" => LengthUnit::Micrometre,
            "nm" => LengthUnit::Nanometre,
            _ => return None,
        })
    }
}

/// The size of one pixel (as displayed: orientation applied) along each axis, in `unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhysicalScale {
    /// Width of a pixel.
    pub x: f64,
    /// Height of a pixel.
    pub y: f64,
    /// The unit of both.
    pub unit: LengthUnit,
}

/// Pixel sizes are finite and positive by construction ([`PhysicalScale::new`]), never NaN.
impl Eq for PhysicalScale {}

/// Relative difference within which a pixel counts as square.
const SQUARE: f64 = 0.01;

impl PhysicalScale {
    /// A pixel of `x` by `y` `unit`; `None` unless both are finite and positive.
    pub fn new(x: f64, y: f64, unit: LengthUnit) -> Option<Self> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        (ok(x) && ok(y)).then_some(Self { x, y, unit })
    }

    /// The same pixel with its axes swapped (an image shown turned by 90°).
    pub fn swapped(self) -> Self {
        Self {
            x: self.y,
            y: self.x,
            unit: self.unit,
        }
    }

    /// The physdim service's `physicalScale` and `physicalUnits` (which allow mm, cm and in):
    /// `None` when the pixel is not square within 1 %, since the service has one scale for both
    /// axes. Micrometres and nanometres become millimetres, metres centimetres.
    pub fn iiif(&self) -> Option<(f64, PhysicalUnits)> {
        if (self.x - self.y).abs() > SQUARE * self.x.max(self.y) {
            return None;
        }
        let (scale, units) = match self.unit {
            LengthUnit::Inch => (self.x, PhysicalUnits::Inches),
            LengthUnit::Centimetre => (self.x, PhysicalUnits::Centimetres),
            LengthUnit::Metre => (self.x * 100.0, PhysicalUnits::Centimetres),
            LengthUnit::Millimetre => (self.x, PhysicalUnits::Millimetres),
            LengthUnit::Micrometre => (self.x / 1e3, PhysicalUnits::Millimetres),
            LengthUnit::Nanometre => (self.x / 1e6, PhysicalUnits::Millimetres),
        };
        (scale.is_finite() && scale > 0.0).then_some((scale, units))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_the_units_physdim_allows() {
        let dpi300 = PhysicalScale::new(1.0 / 300.0, 1.0 / 300.0, LengthUnit::Inch).unwrap();
        assert_eq!(dpi300.iiif(), Some((1.0 / 300.0, PhysicalUnits::Inches)));
        let micro = PhysicalScale::new(0.65, 0.65, LengthUnit::Micrometre).unwrap();
        let (s, u) = micro.iiif().unwrap();
        assert!((s - 0.00065).abs() < 1e-12);
        assert_eq!(u, PhysicalUnits::Millimetres);
        let cm = PhysicalScale::new(0.01, 0.01, LengthUnit::Centimetre).unwrap();
        assert_eq!(cm.iiif(), Some((0.01, PhysicalUnits::Centimetres)));
    }

    #[test]
    fn non_square_or_invalid_pixels_have_no_single_scale() {
        let tall = PhysicalScale::new(1.0, 2.0, LengthUnit::Millimetre).unwrap();
        assert_eq!(tall.iiif(), None);
        assert_eq!(tall.swapped().x, 2.0);
        assert!(PhysicalScale::new(0.0, 1.0, LengthUnit::Inch).is_none());
        assert!(PhysicalScale::new(f64::NAN, 1.0, LengthUnit::Inch).is_none());
        assert!(PhysicalScale::new(f64::INFINITY, 1.0, LengthUnit::Inch).is_none());
        assert!(LengthUnit::from_ome("furlong").is_none());
    }
}
