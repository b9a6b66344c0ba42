//! The physical pixel size a TIFF states: OME-XML's `PhysicalSizeX`/`Y` in ImageDescription (tag
//! 270) when present, else XResolution/YResolution (282/283, pixels per unit) with an explicit
//! ResolutionUnit (296) of inch (2) or centimetre (3). Without a unit tag (the TIFF default, inch,
//! that many writers leave implied) or with unit 1 (no absolute unit), none is claimed.

use super::ifd::{tag, Ifd};
use crate::readers::physical::{LengthUnit, PhysicalScale};

/// XResolution: pixels per unit along the width.
const X_RESOLUTION: u16 = 282;
/// YResolution: pixels per unit along the height.
const Y_RESOLUTION: u16 = 283;
/// ResolutionUnit: 1 none, 2 inch, 3 centimetre.
const RESOLUTION_UNIT: u16 = 296;

/// The pixel size `ifd` states, if any.
pub(super) fn physical_scale(ifd: &Ifd) -> Option<PhysicalScale> {
    if let Some(description) = ifd.bytes(tag::IMAGE_DESCRIPTION) {
        let text = String::from_utf8_lossy(&description);
        if text.contains("<OME") {
            if let Some(scale) = ome_pixel_size(&text) {
                return Some(scale);
            }
        }
    }
    let unit = match ifd.int(RESOLUTION_UNIT)? {
        2 => LengthUnit::Inch,
        3 => LengthUnit::Centimetre,
        _ => return None,
    };
    let x = ifd.float(X_RESOLUTION)?;
    let y = ifd.float(Y_RESOLUTION).unwrap_or(x);
    PhysicalScale::new(1.0 / x, 1.0 / y, unit)
}

/// `PhysicalSizeX`/`Y` (and their units, micrometres by default) of the first `<Pixels>` element.
fn ome_pixel_size(xml: &str) -> Option<PhysicalScale> {
    let start = xml.find("<Pixels")?;
    let element = &xml[start..];
    let element = &element[..element.find('>')?];
    let x: f64 = attribute(element, "PhysicalSizeX")?.trim().parse().ok()?;
    let y: f64 = attribute(element, "PhysicalSizeY")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(x);
    let unit_of = |name: &str| {
        attribute(element, name).map_or(Some(LengthUnit::Micrometre), LengthUnit::from_ome)
    };
    let (ux, uy) = (unit_of("PhysicalSizeXUnit")?, unit_of("PhysicalSizeYUnit")?);
    if ux != uy {
        return None;
    }
    PhysicalScale::new(x, y, ux)
}

/// The value of attribute `name` in the start tag `element` (either quote).
fn attribute<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = element[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = element[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = element[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next()?;
        if !before_ok || (quote != '"' && quote != '\'') {
            continue;
        }
        let value = &rest[1..];
        return value.find(quote).map(|end| &value[..end]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ome_pixel_sizes() {
        let xml = r#"<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels DimensionOrder="XYCZT" ID="Pixels:0" PhysicalSizeX="0.325" PhysicalSizeXUnit="µm" PhysicalSizeY='0.325' SizeX="10" Type="uint8"></Pixels></Image></OME>"#;
        let s = ome_pixel_size(xml).unwrap();
        assert_eq!((s.x, s.y, s.unit), (0.325, 0.325, LengthUnit::Micrometre));
        let nm = r#"<OME><Pixels PhysicalSizeX="100" PhysicalSizeXUnit="nm" PhysicalSizeY="100" PhysicalSizeYUnit="nm"/></OME>"#;
        assert_eq!(ome_pixel_size(nm).unwrap().unit, LengthUnit::Nanometre);
        assert!(ome_pixel_size(r#"<OME><Pixels SizeX="3"/></OME>"#).is_none());
        assert!(ome_pixel_size(r#"<OME><Pixels PhysicalSizeX="abc"/></OME>"#).is_none());
        assert!(
            ome_pixel_size(r#"<OME><Pixels PhysicalSizeX="1" PhysicalSizeXUnit="pc"/></OME>"#)
                .is_none()
        );
        // `PhysicalSizeXUnit` alone is not `PhysicalSizeX`.
        assert!(ome_pixel_size(r#"<OME><Pixels PhysicalSizeXUnit="mm"/></OME>"#).is_none());
    }
}
