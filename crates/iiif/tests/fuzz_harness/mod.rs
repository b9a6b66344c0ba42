//! What the `url` fuzz target does with its input (`fuzz/fuzz_targets/url.rs` includes this file),
//! and what `tests/fuzz_regressions.rs` replays over `tests/fuzz-regressions/url/`: the text after
//! `/iiif/` through `IiifPath::parse`, `ImageRequest::parse` and `plan` against a few image sizes
//! and limits, checking what a plan promises and that its canonical form plans to the same thing.

#![allow(dead_code)]

use tessera_iiif::{plan, Dimensions, IiifPath, ImageRequest, Limits, Rect, Target};

/// Image sizes and limits every parsed request is planned against.
fn cases() -> [(Dimensions, Limits); 4] {
    [
        (Dimensions::new(1, 1), Limits::default()),
        (Dimensions::new(300, 200), Limits::default()),
        (
            Dimensions::new(7, 65_535),
            Limits {
                max_width: Some(100),
                max_height: None,
                max_area: Some(5_000),
                max_scale: 1.0,
            },
        ),
        (
            Dimensions::new(4_000_000_000, 3),
            Limits {
                max_width: Some(20_000),
                max_height: Some(20_000),
                max_area: Some(100_000_000),
                max_scale: 8.0,
            },
        ),
    ]
}

/// Parse `data` (UTF-8 text after `/iiif/`) and plan it; panics on a broken promise.
pub fn exercise_url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = IiifPath::parse(text) else {
        return;
    };
    assert!(!path.identifier.is_empty());
    // Found by this target (`tests/fuzz-regressions/url/empty-raw-segment`): empty raw segments
    // (`3//%2f`) are now refused. An identifier of raw segments that also hold encoded slashes at
    // their edges (`3/%2F/x` is `//x`) still cannot be written back with raw slashes alone: it is
    // answered as any identifier, and the resolvers refuse its empty parts as invalid.
    let empty_raw_segment = path.raw_slashes && path.identifier.split('/').any(str::is_empty);
    if !empty_raw_segment {
        let again = format!(
            "{}/{}/info.json",
            path.version.path_segment(),
            path.encoded_identifier()
        );
        let reparsed = IiifPath::parse(&again);
        assert_eq!(
            reparsed.as_ref().map(|p| p.identifier.as_str()),
            Ok(path.identifier.as_str()),
            "identifier {:?} does not survive encoding as {again:?}",
            path.identifier
        );
    }
    let Target::Image {
        region,
        size,
        rotation,
        quality_format,
    } = &path.target
    else {
        return;
    };
    let Ok(request) = ImageRequest::parse(path.version, region, size, rotation, quality_format)
    else {
        return;
    };
    for (image, limits) in cases() {
        let Ok(planned) = plan(&request, image, &limits) else {
            continue;
        };
        check_plan(&planned, image, &limits);
        let parts: Vec<&str> = planned.canonical.split('/').collect();
        let [r, s, rot, qf] = parts.as_slice() else {
            panic!("canonical {:?} is not four segments", planned.canonical);
        };
        let canonical = ImageRequest::parse(path.version, r, s, rot, qf)
            .unwrap_or_else(|e| panic!("canonical {:?} does not parse: {e}", planned.canonical));
        let replanned = plan(&canonical, image, &limits)
            .unwrap_or_else(|e| panic!("canonical {:?} does not plan: {e}", planned.canonical));
        assert_eq!(replanned.region, planned.region, "{}", planned.canonical);
        assert_eq!(replanned.size, planned.size, "{}", planned.canonical);
        assert_eq!(replanned.canonical, planned.canonical);
    }
}

/// What every plan promises: a non-empty region inside the image, a non-empty size within the
/// limits, and a rotation in `[0, 360)`.
fn check_plan(planned: &tessera_iiif::Plan, image: Dimensions, limits: &Limits) {
    let Rect { x, y, w, h } = planned.region;
    assert!(w > 0 && h > 0, "empty region {:?}", planned.region);
    assert!(
        u64::from(x) + u64::from(w) <= u64::from(image.width)
            && u64::from(y) + u64::from(h) <= u64::from(image.height),
        "region {:?} outside {image:?}",
        planned.region
    );
    assert!(
        planned.size.width > 0 && planned.size.height > 0,
        "empty size {:?}",
        planned.size
    );
    assert!(
        limits.allows(planned.size),
        "size {:?} over {limits:?}",
        planned.size
    );
    assert!(
        (0.0..360.0).contains(&planned.rotation),
        "rotation {}",
        planned.rotation
    );
}
