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

/// Resolve `request` against an image of `image` size under `limits`.
pub fn plan(
    request: &ImageRequest,
    image: Dimensions,
    limits: &Limits,
) -> Result<Plan, RequestError> {
    let region = request.region.resolve(image)?;
    let region_size = Dimensions::new(region.w, region.h);
    let size = request.size.resolve(region_size, request.version, limits)?;
    let region_part = if region == Rect::full(image.width, image.height) {
        "full".to_string()
    } else {
        format!("{},{},{},{}", region.x, region.y, region.w, region.h)
    };
    let size_part = canonical_size(request.version, region_size, size, limits);
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

/// The canonical size segment for an output of `size` from a region of `region` pixels.
fn canonical_size(
    version: ApiVersion,
    region: Dimensions,
    size: Dimensions,
    limits: &Limits,
) -> String {
    let upscaled = size.width > region.width || size.height > region.height;
    let resolve = |upscale| {
        Size {
            upscale,
            kind: SizeKind::Max,
        }
        .resolve(region, version, limits)
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
                version,
                &Limits {
                    max_scale: f64::INFINITY,
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
