//! Property tests of the output limits: `max` and `^max` are exactly what `info.json` advertises, and
//! nothing the plan accepts is larger than the configured limits or than its format can encode.

use proptest::prelude::*;
use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest, Limits, DEFAULT_MAX_AREA};

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop::option::of(1u32..50_000),
        prop::option::of(1u32..50_000),
        prop::option::of(1u64..100_000_000),
        1.0f64..8.0,
    )
        .prop_map(|(w, h, area, scale)| Limits {
            max_width: w.or(h),
            max_height: h,
            max_area: area,
            max_scale: scale,
        })
}

/// The size a client derives from `info.json`: the image scaled into `maxWidth` × `maxHeight` and
/// `maxArea`, each side rounded down (at least one pixel), not above the image unless `up`.
fn from_info(image: Dimensions, limits: &Limits, up: bool) -> Dimensions {
    let (w, h, area) = limits.advertised(image);
    let (iw, ih) = (f64::from(image.width), f64::from(image.height));
    let mut s = f64::INFINITY;
    if let Some(w) = w {
        s = s.min(f64::from(w) / iw);
    }
    if let Some(h) = h {
        s = s.min(f64::from(h) / ih);
    }
    if let Some(a) = area {
        s = s.min((a as f64 / (iw * ih)).sqrt());
    }
    if !up {
        s = s.min(1.0);
    }
    let side = |v: f64| ((v * s + 1e-9).floor()).max(1.0) as u32;
    Dimensions::new(side(iw), side(ih))
}

fn plan_size(v: ApiVersion, image: Dimensions, limits: &Limits, size: &str) -> Option<Dimensions> {
    let req = ImageRequest::parse(v, "full", size, "0", "default.png").ok()?;
    plan(&req, image, limits).ok().map(|p| p.size)
}

proptest! {
    #[test]
    fn max_is_what_info_json_says(w in 1u32..200_000, h in 1u32..200_000, l in limits()) {
        let image = Dimensions::new(w, h);
        let want = from_info(image, &l, false);
        // Under one pixel on a side is a 400 for both; otherwise both agree exactly.
        let ok = want.width >= 1 && want.height >= 1;
        for v in [ApiVersion::V2, ApiVersion::V3] {
            let got = plan_size(v, image, &l, "max");
            if ok && l.allows(want) {
                prop_assert_eq!(got, Some(want), "{} max of {:?} under {:?}", v, image, l);
            }
        }
        let up = from_info(image, &l, true);
        let got = plan_size(ApiVersion::V3, image, &l, "^max");
        if l.allows(up) {
            prop_assert_eq!(got, Some(up), "^max of {:?} under {:?}", image, l);
        }
    }

    #[test]
    fn nothing_accepted_exceeds_the_limits(
        w in 1u32..100_000, h in 1u32..100_000,
        x in 0u32..100_000, y in 0u32..100_000, rw in 1u32..100_000, rh in 1u32..100_000,
        size in prop_oneof![
            (1u32..200_000).prop_map(|w| format!("^{w},")),
            (1u32..200_000).prop_map(|h| format!("^,{h}")),
            (1u32..2000).prop_map(|p| format!("^pct:{p}")),
            (1u32..200_000, 1u32..200_000).prop_map(|(w, h)| format!("^{w},{h}")),
            (1u32..200_000, 1u32..200_000).prop_map(|(w, h)| format!("^!{w},{h}")),
            Just("^max".to_string()),
        ],
        fmt in prop_oneof![Just("jpg"), Just("png"), Just("webp"), Just("gif"), Just("tif")],
        rot in prop_oneof![Just("0"), Just("90"), Just("45"), Just("!13.5")],
    ) {
        let image = Dimensions::new(w, h);
        let l = Limits::default();
        let region = format!("{x},{y},{rw},{rh}");
        let req = ImageRequest::parse(ApiVersion::V3, &region, &size, rot, &format!("default.{fmt}"));
        prop_assume!(req.is_ok());
        let req = req.expect("assumed above");
        if let Ok(p) = plan(&req, image, &l) {
            prop_assert!(p.size.area() <= DEFAULT_MAX_AREA, "{} gave {:?}", size, p.size);
            let out = p.output_size();
            prop_assert!(out.width <= p.format.max_side() && out.height <= p.format.max_side());
            let s = l.max_scale;
            prop_assert!(
                f64::from(p.size.width) <= f64::from(p.region.w) * s + 0.5
                    && f64::from(p.size.height) <= f64::from(p.region.h) * s + 0.5,
                "{} of {:?} upscaled past the limit: {:?}", size, p.region, p.size
            );
        }
    }
}
