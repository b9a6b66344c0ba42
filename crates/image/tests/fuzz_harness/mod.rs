//! What every reader fuzz target does with its input (`fuzz/fuzz_targets/read_*.rs` include this
//! file), and what `tests/fuzz_regressions.rs` replays over `tests/fuzz-regressions/read_*/`:
//! open the bytes as an image, then header, storage, a few small reads and small renders.
//!
//! Errors are expected for most inputs; a panic, or a result that breaks the reader contract, is
//! a bug.

#![allow(dead_code)]

use std::sync::Arc;

use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest, Limits, Rect};
use tessera_image::{open, render, ImageError, ReadLimits, RenderOptions};

/// The pixel limit a fuzzed image is opened under: small, so one input decodes in milliseconds
/// and memory stays bounded, large enough for every header path (levels, tiles) to be reached.
pub const MAX_PIXELS: u64 = 4_000_000;

/// Requests rendered from every image that opens: `region/size/rotation/quality.format` (3.0).
/// The full-resolution JPEG window reaches the JPEG paths that skip the raster: stored tiles
/// joined in the DCT domain, and RGB-coded tiles decoded by Tessera's own entropy decoder into
/// planes (`planar`).
const RENDERS: [[&str; 4]; 5] = [
    ["full", "^!48,48", "0", "default.png"],
    ["8,0,48,40", "max", "0", "default.jpg"],
    ["0,0,40,40", "max", "90", "gray.jpg"],
    ["square", "^17,", "!7.5", "bitonal.webp"],
    ["pct:50,50,50,50", "^!24,24", "180", "color.tif"],
];

/// Run `data` through `open`, the header, storage, three reads and the renders in [`RENDERS`].
/// Returns the first error from `open` (the later steps' errors are expected and ignored).
pub fn exercise_reader(data: &[u8]) -> Result<(), ImageError> {
    let limits = ReadLimits {
        max_pixels: MAX_PIXELS,
        ..ReadLimits::default()
    };
    let mut reader = open(Arc::new(data.to_vec()), &limits)?;
    let header = *reader.header();
    assert!(header.width > 0 && header.height > 0, "{header:?}");
    let storage = reader.storage();
    if let Some(tile) = storage.tile {
        assert!(tile.width > 0 && tile.height > 0, "{storage:?}");
    }
    let (w, h) = (header.width, header.height);
    let reads = [
        (Rect::full(w, h), Dimensions::new(w.min(32), h.min(32))),
        (
            Rect::new(0, 0, w.min(16), h.min(16)),
            Dimensions::new(w.min(16), h.min(16)),
        ),
        (
            Rect::new(w / 2, h / 2, (w - w / 2).min(40), (h - h / 2).min(40)),
            Dimensions::new((w - w / 2).min(20), (h - h / 2).min(20)),
        ),
    ];
    for (region, target) in reads {
        if let Ok(raster) = reader.read(region, target) {
            assert!(
                raster.width <= region.w && raster.height <= region.h,
                "read {region:?} for {target:?} gave {}x{}",
                raster.width,
                raster.height
            );
            assert!(
                raster.width + 1 >= target.width && raster.height + 1 >= target.height,
                "read {region:?} for {target:?} gave {}x{}",
                raster.width,
                raster.height
            );
            assert_eq!(
                raster.data.len(),
                raster.stride() * raster.height as usize,
                "raster buffer size"
            );
        }
    }
    let image = Dimensions::new(w, h);
    for [region, size, rotation, quality_format] in RENDERS {
        let Ok(request) =
            ImageRequest::parse(ApiVersion::V3, region, size, rotation, quality_format)
        else {
            continue;
        };
        let Ok(plan) = plan(&request, image, &Limits::default()) else {
            continue;
        };
        if let Ok(bytes) = render(reader.as_mut(), &plan, &RenderOptions::default()) {
            assert!(!bytes.is_empty(), "empty {quality_format} output");
        }
    }
    Ok(())
}
