//! Property tests of the grammar: whatever parses prints back to itself, canonical forms are fixed
//! points, and mangled segments are refused rather than guessed.

use proptest::prelude::*;
use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest, Limits, Region, Rotation, Size};

fn decimal() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..1000).prop_map(|n| n.to_string()),
        (0u32..100, 1u32..1000)
            .prop_map(|(i, f)| format!("{i}.{}", f.to_string().trim_end_matches('0'))),
    ]
}

fn region() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("full".to_string()),
        Just("square".to_string()),
        (0u32..5000, 0u32..5000, 1u32..5000, 1u32..5000)
            .prop_map(|(x, y, w, h)| format!("{x},{y},{w},{h}")),
        (decimal(), decimal(), decimal(), decimal())
            .prop_map(|(x, y, w, h)| format!("pct:{x},{y},{w},{h}")),
    ]
}

fn size() -> impl Strategy<Value = String> {
    let body = prop_oneof![
        Just("max".to_string()),
        (1u32..5000).prop_map(|w| format!("{w},")),
        (1u32..5000).prop_map(|h| format!(",{h}")),
        decimal().prop_map(|n| format!("pct:{n}")),
        (1u32..5000, 1u32..5000).prop_map(|(w, h)| format!("{w},{h}")),
        (1u32..5000, 1u32..5000).prop_map(|(w, h)| format!("!{w},{h}")),
    ];
    (any::<bool>(), body).prop_map(|(up, b)| if up { format!("^{b}") } else { b })
}

fn rotation() -> impl Strategy<Value = String> {
    (any::<bool>(), 0u32..360, prop::option::of(1u32..10)).prop_map(|(m, d, f)| {
        let n = match f {
            Some(f) => format!("{d}.{f}"),
            None => d.to_string(),
        };
        if m {
            format!("!{n}")
        } else {
            n
        }
    })
}

proptest! {
    #[test]
    fn segments_print_back_to_themselves(r in region(), s in size(), rot in rotation()) {
        if let Ok(parsed) = Region::parse(&r) {
            prop_assert_eq!(parsed.to_string(), r);
        }
        if let Ok(parsed) = Size::parse(&s, ApiVersion::V3) {
            prop_assert_eq!(parsed.to_string(), s);
        }
        prop_assert_eq!(Rotation::parse(&rot).unwrap().to_string(), rot);
    }

    #[test]
    fn canonical_form_is_a_fixed_point(
        r in region(), s in size(), rot in rotation(),
        w in 1u32..6000, h in 1u32..6000, v3 in any::<bool>(),
    ) {
        let version = if v3 { ApiVersion::V3 } else { ApiVersion::V2 };
        let image = Dimensions::new(w, h);
        let req = ImageRequest::parse(version, &r, &s, &rot, "default.jpg");
        prop_assume!(req.is_ok());
        let req = req.expect("assumed above");
        let first = plan(&req, image, &Limits::default());
        prop_assume!(first.is_ok());
        let first = first.expect("assumed above");
        let parts: Vec<&str> = first.canonical.split('/').collect();
        prop_assert_eq!(parts.len(), 4);
        let again = ImageRequest::parse(version, parts[0], parts[1], parts[2], parts[3]).unwrap();
        let second = plan(&again, image, &Limits::default()).unwrap();
        prop_assert_eq!(&second.canonical, &first.canonical);
        prop_assert_eq!(second.region, first.region);
        prop_assert_eq!(second.size, first.size);
    }

    #[test]
    fn planned_sizes_obey_the_spec(r in region(), s in size(), w in 1u32..6000, h in 1u32..6000) {
        let image = Dimensions::new(w, h);
        let req = ImageRequest::parse(ApiVersion::V3, &r, &s, "0", "default.png");
        prop_assume!(req.is_ok());
        let req = req.expect("assumed above");
        if let Ok(p) = plan(&req, image, &Limits::default()) {
            prop_assert!(p.region.x + p.region.w <= w && p.region.y + p.region.h <= h);
            prop_assert!(p.size.width >= 1 && p.size.height >= 1);
            if !s.starts_with('^') {
                prop_assert!(p.size.width <= p.region.w && p.size.height <= p.region.h, "{} upscaled without ^", s);
            }
        }
    }

    #[test]
    fn mangled_segments_are_refused(r in region(), junk in "[^0-9a-z,.:!^]{1,3}", at in 0usize..20) {
        let at = at.min(r.len());
        let mangled = format!("{}{}{}", &r[..at], junk, &r[at..]);
        prop_assert!(Region::parse(&mangled).is_err(), "{} accepted", mangled);
        prop_assert!(Size::parse(&mangled, ApiVersion::V3).is_err(), "{} accepted", mangled);
        prop_assert!(Rotation::parse(&mangled).is_err(), "{} accepted", mangled);
    }
}
