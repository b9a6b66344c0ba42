//! The plan: a request resolved against an image's geometry into concrete pixel work,
//! together with its canonical form.

use crate::size::SizeKind;
use crate::{
    ApiVersion, Dimensions, ImageRequest, Limits, OutputFormat, Quality, Rect, RequestError, Size,
};

/// Everything needed to make one image response, in full-resolution pixel terms.
/// Steps run in the spec's order: crop `region`, scale to `size`, mirror, rotate, apply `quality`, encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The region of the full-resolution image to cut (already clipped to the image).
    pub region: Rect,
    /// The size the region is scaled to, before rotation.
    pub size: Dimensions,
    /// Mirror horizontally (before rotating).
    pub mirror: bool,
    /// Clockwise rotation in degrees, in `[0, 360)`.
    pub rotation: f64,
    /// Colour treatment.
    pub quality: Quality,
    /// Output encoding.
    pub format: OutputFormat,
    /// The canonical `region/size/rotation/quality.format` of this request (the cache key's tail).
    pub canonical: String,
}

impl Plan {
    /// This plan for the same picture stored at another size (an alternate copy of an image planned
    /// at `planned`, stored at `stored`): the region mapped onto the copy, the output unchanged.
    pub fn for_stored_size(&self, planned: Dimensions, stored: Dimensions) -> Plan {
        if planned == stored || stored.width == 0 || stored.height == 0 {
            return self.clone();
        }
        Plan {
            region: crate::levels::map(self.region, planned, stored),
            ..self.clone()
        }
    }
}

/// Resolve `request` against an image of `image` size under `limits`.
pub fn plan(
    request: &ImageRequest,
    image: Dimensions,
    limits: &Limits,
) -> Result<Plan, RequestError> {
    let region = request.region.resolve(image)?;
    let region_size = Dimensions::new(region.w, region.h);
    let size = request
        .size
        .resolve(region_size, image, request.version, limits)?;
    let output = rotated_size(size, request.rotation.degrees);
    let max_side = request.format.max_side();
    if output.width > max_side || output.height > max_side {
        return Err(RequestError::bounds(format!(
            "a {}x{} {} cannot be written: that format's sides are at most {max_side} pixels",
            output.width, output.height, request.format
        )));
    }
    let region_part = if region == Rect::full(image.width, image.height) {
        "full".to_string()
    } else {
        format!("{},{},{},{}", region.x, region.y, region.w, region.h)
    };
    let size_part = canonical_size(request.version, region_size, image, size, limits);
    let canonical = format!(
        "{region_part}/{size_part}/{}/{}.{}",
        request.rotation, request.quality, request.format
    );
    Ok(Plan {
        region,
        size,
        mirror: request.rotation.mirror,
        rotation: request.rotation.degrees,
        quality: request.quality,
        format: request.format,
        canonical,
    })
}

impl Plan {
    /// The size of the encoded image: `size` after rotation (the bounding box of the rotated image).
    pub fn output_size(&self) -> Dimensions {
        rotated_size(self.size, self.rotation)
    }
}

/// The bounding box of a `size` image rotated clockwise by `degrees`, as the renderer makes it:
/// `ceil(w·|cos θ| + h·|sin θ|) × ceil(w·|sin θ| + h·|cos θ|)` less a 1e-6 rounding slack, at least
/// 1×1; multiples of 90° give the exact (swapped) size.
pub fn rotated_size(size: Dimensions, degrees: f64) -> Dimensions {
    let theta = degrees.to_radians();
    let (sin, cos) = (theta.sin().abs(), theta.cos().abs());
    let (w, h) = (f64::from(size.width), f64::from(size.height));
    let side = |v: f64| (v - 1e-6).ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
    Dimensions::new(side(w * cos + h * sin), side(w * sin + h * cos))
}

/// The canonical size segment for an output of `size` from a region of `region` pixels of an image
/// of `image` size.
fn canonical_size(
    version: ApiVersion,
    region: Dimensions,
    image: Dimensions,
    size: Dimensions,
    limits: &Limits,
) -> String {
    let upscaled = size.width > region.width || size.height > region.height;
    let resolve = |upscale| {
        Size {
            upscale,
            kind: SizeKind::Max,
        }
        .resolve(region, image, version, limits)
        .ok()
    };
    match version {
        ApiVersion::V3 => {
            if !upscaled && resolve(false) == Some(size) {
                "max".into()
            } else if upscaled && resolve(true) == Some(size) {
                "^max".into()
            } else if upscaled {
                format!("^{},{}", size.width, size.height)
            } else {
                format!("{},{}", size.width, size.height)
            }
        }
        ApiVersion::V2 => {
            let keeps_aspect = Size {
                upscale: false,
                kind: SizeKind::Width(size.width),
            }
            .resolve(
                region,
                image,
                version,
                &Limits {
                    max_scale: f64::INFINITY,
                    max_area: None,
                    ..Limits::default()
                },
            )
            .is_ok_and(|d| d == size);
            if size == region {
                "full".into()
            } else if keeps_aspect {
                format!("{},", size.width)
            } else {
                format!("{},{}", size.width, size.height)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(version: ApiVersion, path: &str) -> String {
        let p: Vec<&str> = path.split('/').collect();
        let req = ImageRequest::parse(version, p[0], p[1], p[2], p[3]).unwrap();
        plan(&req, Dimensions::new(1000, 600), &Limits::default())
            .unwrap()
            .canonical
    }

    #[test]
    fn a_plan_moves_onto_a_copy_of_another_size() {
        let req = ImageRequest::parse(
            ApiVersion::V3,
            "500,300,250,150",
            "100,",
            "0",
            "default.jpg",
        )
        .unwrap();
        let planned = Dimensions::new(1000, 600);
        let p = plan(&req, planned, &Limits::default()).unwrap();
        let half = p.for_stored_size(planned, Dimensions::new(500, 300));
        assert_eq!(half.region, Rect::new(250, 150, 125, 75));
        assert_eq!((half.size, &half.canonical), (p.size, &p.canonical));
        assert_eq!(p.for_stored_size(planned, planned), p);
    }

    #[test]
    fn v3_canonical_forms() {
        assert_eq!(
            canon(ApiVersion::V3, "full/max/0/default.jpg"),
            "full/max/0/default.jpg"
        );
        assert_eq!(
            canon(ApiVersion::V3, "0,0,1000,600/1000,/360/default.jpg"),
            "full/max/0/default.jpg"
        );
        assert_eq!(
            canon(ApiVersion::V3, "square/300,/!90.0/gray.png"),
            "200,0,600,600/300,300/!90/gray.png"
        );
        assert_eq!(
            canon(ApiVersion::V3, "pct:50,50,50,50/pct:50/0/color.webp"),
            "500,300,500,300/250,150/0/color.webp"
        );
        assert_eq!(
            canon(ApiVersion::V3, "full/^2000,/0/default.jpg"),
            "full/^2000,1200/0/default.jpg"
        );
        assert_eq!(
            canon(ApiVersion::V3, "full/^max/0/default.jpg"),
            "full/max/0/default.jpg"
        );
    }

    #[test]
    fn v2_canonical_forms() {
        assert_eq!(
            canon(ApiVersion::V2, "full/full/0/default.jpg"),
            "full/full/0/default.jpg"
        );
        assert_eq!(
            canon(ApiVersion::V2, "full/max/0/default.jpg"),
            "full/full/0/default.jpg"
        );
        assert_eq!(
            canon(ApiVersion::V2, "full/,300/0/default.jpg"),
            "full/500,/0/default.jpg"
        );
        assert_eq!(
            canon(ApiVersion::V2, "full/500,500/0/default.jpg"),
            "full/500,500/0/default.jpg"
        );
    }

    fn plan_at(
        version: ApiVersion,
        image: Dimensions,
        limits: &Limits,
        path: &str,
    ) -> Result<Plan, RequestError> {
        let p: Vec<&str> = path.split('/').collect();
        let req = ImageRequest::parse(version, p[0], p[1], p[2], p[3])?;
        plan(&req, image, limits)
    }

    /// What a client computes from `info.json`: the region scaled to fit `maxWidth`, `maxHeight`
    /// and `maxArea`, rounded down, never upscaled unless `up`.
    fn from_info(image: Dimensions, limits: &Limits, up: bool) -> Dimensions {
        let (w, h, area) = limits.advertised(image);
        let (iw, ih) = (f64::from(image.width), f64::from(image.height));
        let mut s = (f64::from(w.unwrap()) / iw).min(f64::from(h.unwrap()) / ih);
        if let Some(a) = area {
            s = s.min((a as f64 / (iw * ih)).sqrt());
        }
        if !up {
            s = s.min(1.0);
        }
        Dimensions::new(
            (iw * s + 1e-9).floor() as u32,
            (ih * s + 1e-9).floor() as u32,
        )
    }

    #[test]
    fn max_and_caret_max_are_what_info_json_advertises() {
        let configs = [
            Limits::default(),
            Limits {
                max_width: Some(5000),
                ..Limits::default()
            },
            Limits {
                max_width: Some(700),
                max_height: Some(300),
                max_area: None,
                ..Limits::default()
            },
            Limits {
                max_area: Some(1_000_000),
                max_width: Some(100_000),
                ..Limits::default()
            },
        ];
        let images = [
            Dimensions::new(1000, 1000),
            Dimensions::new(1000, 600),
            Dimensions::new(10000, 7500),
            Dimensions::new(31, 7),
            Dimensions::new(100_000, 300),
        ];
        for limits in &configs {
            for &image in &images {
                let want = from_info(image, limits, false);
                for v in [ApiVersion::V2, ApiVersion::V3] {
                    let p = plan_at(v, image, limits, "full/max/0/default.png").unwrap();
                    assert_eq!(p.size, want, "{v} max of {image:?} under {limits:?}");
                }
                let up = plan_at(ApiVersion::V3, image, limits, "full/^max/0/default.png").unwrap();
                assert_eq!(
                    up.size,
                    from_info(image, limits, true),
                    "^max of {image:?} under {limits:?}"
                );
                let (w, h, area) = limits.advertised(image);
                assert!(up.size.width <= w.unwrap() && up.size.height <= h.unwrap());
                assert!(area.is_none_or(|a| up.size.area() <= a));
            }
        }
        // The validator's size_up: ^max of its 1000x1000 image is 1000x1000, yet ^2000,2000 is served.
        let v = Dimensions::new(1000, 1000);
        let l = Limits::default();
        assert_eq!(
            plan_at(ApiVersion::V3, v, &l, "full/^max/0/default.jpg")
                .unwrap()
                .size,
            v
        );
        assert_eq!(
            plan_at(ApiVersion::V3, v, &l, "full/^2000,2000/0/default.jpg")
                .unwrap()
                .size,
            Dimensions::new(2000, 2000)
        );
        // ^max of a small part of the image fills the advertised box up to max_scale (4) times.
        let part = |r: &str| {
            plan_at(ApiVersion::V3, v, &l, &format!("{r}/^max/0/default.jpg")).map(|p| p.size)
        };
        assert_eq!(part("0,0,10,5"), Ok(Dimensions::new(40, 20)));
        assert_eq!(part("0,0,500,250"), Ok(Dimensions::new(1000, 500)));
    }

    #[test]
    fn the_hostile_requests_are_refused_by_the_plan() {
        let big = Dimensions::new(10000, 7500);
        let l = Limits::default();
        for path in [
            "full/^pct:400/0/default.jpg",
            "full/^40000,/0/default.gif",
            "full/10000,/0/default.jpg",
            "full/full/0/default.jpg",
        ] {
            let v = if path.contains("/full/") {
                ApiVersion::V2
            } else {
                ApiVersion::V3
            };
            let e = plan_at(v, big, &l, path).unwrap_err();
            assert!(matches!(e, RequestError::OutOfBounds(_)), "{path}: {e}");
            assert!(e.to_string().contains("maxArea of 16777216"), "{path}: {e}");
        }
        // Viewers' requests still work: tiles, the journal's full/,1000, max (shrunk to maxArea).
        let ok = |p: &str| plan_at(ApiVersion::V3, big, &l, p).map(|p| p.size);
        assert_eq!(
            ok("0,0,1024,1024/256,/0/default.jpg"),
            Ok(Dimensions::new(256, 256))
        );
        assert_eq!(
            ok("full/,1000/0/default.jpg"),
            Ok(Dimensions::new(1333, 1000))
        );
        assert_eq!(
            ok("full/max/0/default.jpg"),
            Ok(Dimensions::new(4729, 3547))
        );
    }

    #[test]
    fn sizes_an_encoder_cannot_write_are_refused_by_the_plan() {
        let wide = Dimensions::new(70000, 200);
        let l = Limits::default();
        let at = |p: &str| plan_at(ApiVersion::V3, wide, &l, p);
        assert!(at("full/16383,/0/default.webp").is_ok());
        let e = at("full/16384,/0/default.webp").unwrap_err();
        assert!(e.to_string().contains("at most 16383"), "{e}");
        assert!(at("full/16384,/0/default.jpg").is_ok());
        assert!(at("full/70000,/0/default.png").is_ok());
        for f in ["jpg", "gif"] {
            assert!(at(&format!("full/70000,/0/default.{f}"))
                .unwrap_err()
                .to_string()
                .contains("65535"));
        }
        // Rotation counts: 16000 wide turned by 90 is 46 wide and 16000 tall; by 10 it is wider.
        assert!(at("full/16000,/90/default.webp").is_ok());
        let square = Dimensions::new(12000, 12000);
        let open = Limits {
            max_area: None,
            ..Limits::default()
        };
        let sq = |p: &str| plan_at(ApiVersion::V3, square, &open, p);
        assert!(sq("full/max/0/default.webp").is_ok());
        // 12000 turned by 45 degrees is 16971 wide.
        let e = sq("full/max/45/default.webp").unwrap_err();
        assert!(e.to_string().contains("16971x16971"), "{e}");
        assert_eq!(
            at("full/16000,/10/default.png").unwrap().output_size(),
            rotated_size(Dimensions::new(16000, 46), 10.0)
        );
    }

    #[test]
    fn rotated_sizes_are_bounding_boxes() {
        let d = Dimensions::new(100, 50);
        assert_eq!(rotated_size(d, 0.0), d);
        assert_eq!(rotated_size(d, 90.0), Dimensions::new(50, 100));
        assert_eq!(rotated_size(d, 180.0), d);
        assert_eq!(rotated_size(d, 45.0), Dimensions::new(107, 107));
    }

    #[test]
    fn canonical_requests_plan_to_the_same_pixels() {
        for version in [ApiVersion::V2, ApiVersion::V3] {
            for path in [
                "full/max/0/default.jpg",
                "10,10,500,500/!100,50/0/gray.png",
                "pct:1,2,3,4/^pct:150/!7.5/default.jpg",
                "full/333,/0/default.jpg",
                "square/,77/0/default.jpg",
            ] {
                let p: Vec<&str> = path.split('/').collect();
                let Ok(req) = ImageRequest::parse(version, p[0], p[1], p[2], p[3]) else {
                    continue;
                };
                let image = Dimensions::new(1000, 600);
                let first = plan(&req, image, &Limits::default()).unwrap();
                let c: Vec<&str> = first.canonical.split('/').collect();
                let again = ImageRequest::parse(version, c[0], c[1], c[2], c[3]).unwrap();
                let second = plan(&again, image, &Limits::default()).unwrap();
                assert_eq!(first, second, "{version} {path}");
            }
        }
    }
}
