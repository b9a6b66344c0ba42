//! `info.json`: the image information document of each version, and the tiles and sizes it advertises.

use crate::{ApiVersion, Dimensions, Limits, OutputFormat, Quality, Rect};
use serde_json::{json, Map, Value};

/// A set of tiles of one size, available at several scale factors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileSet {
    /// Tile width in pixels (in the output, at every scale factor).
    pub width: u32,
    /// Tile height in pixels.
    pub height: u32,
    /// Scale factors at which these tiles are efficient, ascending.
    pub scale_factors: Vec<u32>,
}

/// What `info.json` describes: one image as served under one id.
#[derive(Debug, Clone)]
pub struct ImageService<'a> {
    /// The service's base URI: scheme, host, prefix and identifier, no trailing slash.
    pub id: &'a str,
    /// Full-resolution size.
    pub dimensions: Dimensions,
    /// Preferred sizes of the full image, ascending.
    pub sizes: &'a [Dimensions],
    /// Tile sets.
    pub tiles: &'a [TileSet],
    /// The server's limits.
    pub limits: &'a Limits,
    /// `preferredFormats` (3.0 only, in this order), left out when empty.
    pub preferred_formats: &'a [OutputFormat],
}

/// Features beyond level 2 that Tessera supports (3.0 names).
const EXTRA_FEATURES_V3: [&str; 5] = [
    "canonicalLinkHeader",
    "mirroring",
    "profileLinkHeader",
    "rotationArbitrary",
    "sizeUpscaling",
];

/// Every feature Tessera supports, as 2.1 names them.
const SUPPORTS_V2: [&str; 18] = [
    "baseUriRedirect",
    "canonicalLinkHeader",
    "cors",
    "jsonldMediaType",
    "mirroring",
    "profileLinkHeader",
    "regionByPct",
    "regionByPx",
    "regionSquare",
    "rotationArbitrary",
    "rotationBy90s",
    "sizeAboveFull",
    "sizeByConfinedWh",
    "sizeByDistortedWh",
    "sizeByH",
    "sizeByPct",
    "sizeByW",
    "sizeByWh",
];

impl ImageService<'_> {
    /// The `info.json` document for `version`.
    pub fn to_json(&self, version: ApiVersion) -> Value {
        match version {
            ApiVersion::V3 => self.v3(),
            ApiVersion::V2 => self.v2(),
        }
    }

    /// The `info.json` of a static IIIF Level 0 copy of the image (`tessera export`): the id,
    /// size, `sizes` and `tiles`, profile `level0`, and no limits or extra features (a static
    /// tree has only the files it lists).
    pub fn to_level0_json(&self, version: ApiVersion) -> Value {
        let mut doc = Map::new();
        doc.insert("@context".into(), json!(version.context()));
        match version {
            ApiVersion::V3 => {
                doc.insert("id".into(), json!(self.id));
                doc.insert("type".into(), json!("ImageService3"));
                doc.insert("protocol".into(), json!("http://iiif.io/api/image"));
                doc.insert("profile".into(), json!("level0"));
            }
            ApiVersion::V2 => {
                doc.insert("@id".into(), json!(self.id));
                doc.insert("protocol".into(), json!("http://iiif.io/api/image"));
                doc.insert(
                    "profile".into(),
                    json!(["http://iiif.io/api/image/2/level0.json"]),
                );
            }
        }
        doc.insert("width".into(), json!(self.dimensions.width));
        doc.insert("height".into(), json!(self.dimensions.height));
        self.insert_sizes_and_tiles(&mut doc, version == ApiVersion::V3);
        Value::Object(doc)
    }

    fn v3(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("@context".into(), json!(ApiVersion::V3.context()));
        doc.insert("id".into(), json!(self.id));
        doc.insert("type".into(), json!("ImageService3"));
        doc.insert("protocol".into(), json!("http://iiif.io/api/image"));
        doc.insert("profile".into(), json!("level2"));
        doc.insert("width".into(), json!(self.dimensions.width));
        doc.insert("height".into(), json!(self.dimensions.height));
        self.insert_limits(&mut doc);
        self.insert_sizes_and_tiles(&mut doc, true);
        let extra_formats: Vec<&str> = OutputFormat::ALL
            .iter()
            .filter(|f| !matches!(f, OutputFormat::Jpg | OutputFormat::Png))
            .map(|f| f.extension())
            .collect();
        let extra_qualities: Vec<&str> = Quality::ALL[1..].iter().map(|q| q.as_str()).collect();
        doc.insert("extraFormats".into(), json!(extra_formats));
        doc.insert("extraQualities".into(), json!(extra_qualities));
        doc.insert("extraFeatures".into(), json!(EXTRA_FEATURES_V3));
        if !self.preferred_formats.is_empty() {
            let preferred: Vec<&str> = self
                .preferred_formats
                .iter()
                .map(|f| f.extension())
                .collect();
            doc.insert("preferredFormats".into(), json!(preferred));
        }
        Value::Object(doc)
    }

    fn v2(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("@context".into(), json!(ApiVersion::V2.context()));
        doc.insert("@id".into(), json!(self.id));
        doc.insert("protocol".into(), json!("http://iiif.io/api/image"));
        doc.insert("width".into(), json!(self.dimensions.width));
        doc.insert("height".into(), json!(self.dimensions.height));
        self.insert_sizes_and_tiles(&mut doc, false);
        let mut profile = Map::new();
        let formats: Vec<&str> = OutputFormat::ALL.iter().map(|f| f.extension()).collect();
        let qualities: Vec<&str> = Quality::ALL.iter().map(|q| q.as_str()).collect();
        profile.insert("formats".into(), json!(formats));
        profile.insert("qualities".into(), json!(qualities));
        profile.insert("supports".into(), json!(SUPPORTS_V2));
        self.insert_limits(&mut profile);
        doc.insert(
            "profile".into(),
            json!([ApiVersion::V2.level2_profile_uri(), Value::Object(profile)]),
        );
        Value::Object(doc)
    }

    fn insert_limits(&self, doc: &mut Map<String, Value>) {
        let (max_width, max_height, max_area) = self.limits.advertised(self.dimensions);
        if let Some(w) = max_width {
            doc.insert("maxWidth".into(), json!(w));
        }
        if let Some(h) = max_height {
            doc.insert("maxHeight".into(), json!(h));
        }
        if let Some(a) = max_area {
            doc.insert("maxArea".into(), json!(a));
        }
    }

    fn insert_sizes_and_tiles(&self, doc: &mut Map<String, Value>, typed: bool) {
        let sizes: Vec<Value> = self
            .sizes
            .iter()
            .map(|s| {
                let mut o = Map::new();
                if typed {
                    o.insert("type".into(), json!("Size"));
                }
                o.insert("width".into(), json!(s.width));
                o.insert("height".into(), json!(s.height));
                Value::Object(o)
            })
            .collect();
        let tiles: Vec<Value> = self
            .tiles
            .iter()
            .map(|t| {
                let mut o = Map::new();
                if typed {
                    o.insert("type".into(), json!("Tile"));
                }
                o.insert("width".into(), json!(t.width));
                o.insert("height".into(), json!(t.height));
                o.insert("scaleFactors".into(), json!(t.scale_factors));
                Value::Object(o)
            })
            .collect();
        if !sizes.is_empty() {
            doc.insert("sizes".into(), Value::Array(sizes));
        }
        if !tiles.is_empty() {
            doc.insert("tiles".into(), Value::Array(tiles));
        }
    }
}

/// The size of the full image at scale factor `s`, as viewers compute it: each side divided and rounded up.
pub fn scaled(image: Dimensions, s: u32) -> Dimensions {
    Dimensions::new(image.width.div_ceil(s), image.height.div_ceil(s))
}

/// Square tiles of `tile` pixels at scale factors 1, 2, 4, … up to the first at which the whole image fits one tile.
/// A tile larger than the limits allow is shrunk to fit them.
pub fn default_tiles(image: Dimensions, tile: u32, limits: &Limits) -> TileSet {
    let mut tile = tile.max(1);
    while tile > 1 && !limits.allows(Dimensions::new(tile, tile)) {
        tile /= 2;
    }
    let mut scale_factors = vec![1];
    let mut s = 1u32;
    while (image.width.div_ceil(s) > tile || image.height.div_ceil(s) > tile) && s < (1 << 20) {
        s *= 2;
        scale_factors.push(s);
    }
    TileSet {
        width: tile,
        height: tile,
        scale_factors,
    }
}

/// Preferred sizes of the full image: halvings from the full size down to about `smallest` pixels on the
/// long side, ascending, keeping only those within the limits.
pub fn default_sizes(image: Dimensions, smallest: u32, limits: &Limits) -> Vec<Dimensions> {
    let mut sizes = Vec::new();
    let mut s = 1u32;
    loop {
        let d = scaled(image, s);
        if limits.allows(d) {
            sizes.push(d);
        }
        if d.width.max(d.height) <= smallest || (d.width == 1 && d.height == 1) || s >= (1 << 20) {
            break;
        }
        s *= 2;
    }
    sizes.reverse();
    sizes
}

/// Tiles of the source's own stored size (`tile`) at scale factors 1, 2, 4, … up to the first at which
/// the whole image fits one tile, so that a viewer's requests align with stored tiles. `None` when the
/// stored tiles are too small or too large to be good request sizes, or outside the limits.
pub fn native_tiles(image: Dimensions, tile: Dimensions, limits: &Limits) -> Option<TileSet> {
    let usable = (64..=4096).contains(&tile.width) && (64..=4096).contains(&tile.height);
    if !usable || !limits.allows(tile) {
        return None;
    }
    let mut scale_factors = vec![1];
    let mut s = 1u32;
    while (image.width.div_ceil(s) > tile.width || image.height.div_ceil(s) > tile.height)
        && s < (1 << 20)
    {
        s *= 2;
        scale_factors.push(s);
    }
    Some(TileSet {
        width: tile.width,
        height: tile.height,
        scale_factors,
    })
}

/// Preferred sizes from the source's stored levels (`levels`, any order, the full size included or
/// not): each level's width with the height a `w,` request gives for it (so both forms of the size
/// name the same image), within the limits, ascending, without duplicates. Empty when none is allowed.
pub fn level_sizes(image: Dimensions, levels: &[Dimensions], limits: &Limits) -> Vec<Dimensions> {
    let (iw, ih) = (f64::from(image.width), f64::from(image.height));
    let mut sizes: Vec<Dimensions> = levels
        .iter()
        .filter(|l| l.width > 0 && l.width < image.width)
        .map(|l| {
            let h = (f64::from(l.width) * ih / iw).round().max(1.0) as u32;
            Dimensions::new(l.width, h.min(image.height))
        })
        .chain(std::iter::once(image))
        .filter(|&d| limits.allows(d))
        .collect();
    sizes.sort_by_key(|d| (d.width, d.height));
    sizes.dedup();
    sizes
}

/// Pixels decoded to make an output of `out` from a full-resolution `region` (width, height) at the
/// image's origin: the one level arithmetic of [`crate::levels`].
fn decode_cost(
    image: Dimensions,
    levels: &[Dimensions],
    region: (u32, u32),
    out: (u32, u32),
) -> u64 {
    crate::levels::decode_cost(
        image,
        levels,
        Rect::new(0, 0, region.0, region.1),
        Dimensions::new(out.0, out.1),
    )
}

/// How a server chooses what `info.json` advertises for images that do not bring their own tiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoPolicy {
    /// The tile size advertised for untiled images (or tiles too small or large to request).
    pub default_tile: u32,
    /// Sizes smaller than this on the long side are not listed.
    pub smallest_size: u32,
    /// The most pixels one read may decode: what costs more is not advertised.
    pub max_pixels: u64,
}

/// What `info.json` advertises for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// Preferred sizes, ascending.
    pub sizes: Vec<Dimensions>,
    /// The tile set.
    pub tiles: TileSet,
}

/// The advertising policy in one place: the stored tiling when it makes good requests (else square
/// tiles of the policy's size), the stored levels as sizes (else halvings), and only the scale
/// factors and sizes one read can make within the pixel budget.
pub fn advertise(
    image: Dimensions,
    stored_tile: Option<Dimensions>,
    levels: &[Dimensions],
    policy: &InfoPolicy,
    limits: &Limits,
) -> Advertised {
    let mut tiles = stored_tile
        .and_then(|t| native_tiles(image, t, limits))
        .unwrap_or_else(|| default_tiles(image, policy.default_tile, limits));
    let mut sizes = level_sizes(image, levels, limits);
    if levels.is_empty() || sizes.is_empty() {
        sizes = default_sizes(image, policy.smallest_size, limits);
    }
    within_budget(image, levels, policy.max_pixels, &mut tiles, &mut sizes);
    Advertised { sizes, tiles }
}

/// Keep only the scale factors and sizes a viewer can actually get when one read may decode at most
/// `max_pixels` (a tiled image without reduced levels cannot make its whole-image tiles and
/// thumbnails within that budget, so they are not advertised). Scale factor 1 is always kept.
pub fn within_budget(
    image: Dimensions,
    levels: &[Dimensions],
    max_pixels: u64,
    tiles: &mut TileSet,
    sizes: &mut Vec<Dimensions>,
) {
    let (tw, th) = (tiles.width, tiles.height);
    tiles.scale_factors.retain(|&s| {
        let region = (
            tw.saturating_mul(s).min(image.width),
            th.saturating_mul(s).min(image.height),
        );
        let out = (region.0.div_ceil(s), region.1.div_ceil(s));
        s == 1 || decode_cost(image, levels, region, out) <= max_pixels
    });
    sizes.retain(|d| {
        decode_cost(
            image,
            levels,
            (image.width, image.height),
            (d.width, d.height),
        ) <= max_pixels
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level0_documents_list_only_sizes_and_tiles() {
        let sizes = [Dimensions::new(50, 25), Dimensions::new(100, 50)];
        let tiles = [TileSet {
            width: 64,
            height: 64,
            scale_factors: vec![1, 2],
        }];
        let service = ImageService {
            id: "https://cdn.example/iiif/a%2Fb",
            dimensions: Dimensions::new(100, 50),
            sizes: &sizes,
            tiles: &tiles,
            limits: &Limits::default(),
            preferred_formats: &[OutputFormat::Webp],
        };
        let v3 = service.to_level0_json(ApiVersion::V3);
        assert_eq!(v3["profile"], "level0");
        assert_eq!(v3["id"], "https://cdn.example/iiif/a%2Fb");
        assert_eq!(v3["tiles"][0]["scaleFactors"], json!([1, 2]));
        assert_eq!(v3["sizes"][1]["type"], "Size");
        for absent in [
            "maxArea",
            "extraFeatures",
            "extraFormats",
            "preferredFormats",
        ] {
            assert!(v3.get(absent).is_none(), "{absent}");
        }
        let v2 = service.to_level0_json(ApiVersion::V2);
        assert_eq!(
            v2["profile"],
            json!(["http://iiif.io/api/image/2/level0.json"])
        );
        assert_eq!(v2["@id"], "https://cdn.example/iiif/a%2Fb");
        assert!(v2["sizes"][0].get("type").is_none());
    }

    #[test]
    fn a_single_level_giant_advertises_only_what_fits_the_budget() {
        let image = Dimensions::new(100_000, 100_000);
        let mut tiles = TileSet {
            width: 256,
            height: 256,
            scale_factors: (0..10).map(|i| 1 << i).collect(),
        };
        let mut sizes = vec![Dimensions::new(782, 782), image];
        within_budget(image, &[], 400_000_000, &mut tiles, &mut sizes);
        // 256 x 64 = 16384 px square: 268 Mpx; x 128 would be 1.07 Gpx.
        assert_eq!(tiles.scale_factors, vec![1, 2, 4, 8, 16, 32, 64]);
        assert!(sizes.is_empty());
        // With its levels stored, every scale factor and size is cheap.
        let levels: Vec<Dimensions> = (1..10)
            .map(|i| Dimensions::new(100_000 >> i, 100_000 >> i))
            .collect();
        let mut tiles = TileSet {
            width: 256,
            height: 256,
            scale_factors: (0..10).map(|i| 1 << i).collect(),
        };
        let mut sizes = vec![Dimensions::new(195, 195), Dimensions::new(781, 781)];
        within_budget(image, &levels, 400_000_000, &mut tiles, &mut sizes);
        assert_eq!(tiles.scale_factors.len(), 10);
        assert_eq!(sizes.len(), 2);
    }

    #[test]
    fn advertising_prefers_stored_tiles_and_levels_within_the_budget() {
        let image = Dimensions::new(6000, 4000);
        let policy = InfoPolicy {
            default_tile: 512,
            smallest_size: 64,
            max_pixels: 400_000_000,
        };
        let limits = Limits::default();
        let levels = [Dimensions::new(3000, 2000), Dimensions::new(1500, 1000)];
        let a = advertise(
            image,
            Some(Dimensions::new(256, 256)),
            &levels,
            &policy,
            &limits,
        );
        assert_eq!((a.tiles.width, a.tiles.height), (256, 256));
        assert_eq!(a.sizes.first(), Some(&Dimensions::new(1500, 1000)));
        // No usable stored tile and no levels: square tiles of the policy's size, halvings as sizes.
        let a = advertise(image, Some(Dimensions::new(16, 16)), &[], &policy, &limits);
        assert_eq!((a.tiles.width, a.tiles.scale_factors.len()), (512, 5));
        assert_eq!(a.sizes.first(), Some(&Dimensions::new(47, 32)));
        // A small budget keeps what one read can make: no whole-image thumbnails without levels.
        let tight = InfoPolicy {
            max_pixels: 1_000_000,
            ..policy
        };
        let a = advertise(image, None, &[], &tight, &limits);
        assert_eq!(a.tiles.scale_factors, vec![1]);
        assert!(a.sizes.is_empty());
    }

    #[test]
    fn native_tiles_follow_the_stored_size() {
        let t = native_tiles(
            Dimensions::new(6000, 4000),
            Dimensions::new(256, 128),
            &Limits::default(),
        );
        assert_eq!(
            t,
            Some(TileSet {
                width: 256,
                height: 128,
                scale_factors: vec![1, 2, 4, 8, 16, 32],
            })
        );
        let small = Dimensions::new(16, 16);
        assert_eq!(
            native_tiles(Dimensions::new(600, 400), small, &Limits::default()),
            None
        );
        let limits = Limits {
            max_width: Some(200),
            ..Limits::default()
        };
        let t = native_tiles(
            Dimensions::new(600, 400),
            Dimensions::new(256, 256),
            &limits,
        );
        assert_eq!(t, None);
    }

    #[test]
    fn level_sizes_ascend_within_limits() {
        let image = Dimensions::new(1000, 600);
        let levels = [Dimensions::new(250, 150), Dimensions::new(500, 300)];
        let s = level_sizes(image, &levels, &Limits::default());
        assert_eq!(s, vec![levels[0], levels[1], image]);
        let limits = Limits {
            max_width: Some(600),
            ..Limits::default()
        };
        assert_eq!(
            level_sizes(image, &levels, &limits),
            vec![levels[0], levels[1]]
        );
    }

    #[test]
    fn tiles_cover_down_to_one_tile() {
        let t = default_tiles(Dimensions::new(6000, 4000), 512, &Limits::default());
        assert_eq!(t.scale_factors, vec![1, 2, 4, 8, 16]);
        let t = default_tiles(Dimensions::new(300, 200), 512, &Limits::default());
        assert_eq!(t.scale_factors, vec![1]);
    }

    #[test]
    fn sizes_ascend_and_respect_limits() {
        let s = default_sizes(Dimensions::new(1000, 750), 100, &Limits::default());
        assert_eq!(s.first(), Some(&Dimensions::new(63, 47)));
        assert_eq!(s.last(), Some(&Dimensions::new(1000, 750)));
        let limits = Limits {
            max_width: Some(600),
            ..Limits::default()
        };
        let s = default_sizes(Dimensions::new(1000, 750), 100, &limits);
        assert_eq!(s.last(), Some(&Dimensions::new(500, 375)));
    }

    #[test]
    fn v3_document_has_the_required_properties() {
        let limits = Limits {
            max_width: Some(2000),
            ..Limits::default()
        };
        let tiles = [default_tiles(Dimensions::new(1000, 750), 512, &limits)];
        let svc = ImageService {
            id: "https://x.org/iiif/3/a",
            dimensions: Dimensions::new(1000, 750),
            sizes: &[],
            tiles: &tiles,
            limits: &limits,
            preferred_formats: &[],
        };
        let v = svc.to_json(ApiVersion::V3);
        assert_eq!(v["@context"], "http://iiif.io/api/image/3/context.json");
        assert_eq!(v["type"], "ImageService3");
        assert_eq!(v["profile"], "level2");
        assert_eq!(v["maxWidth"], 2000);
        assert_eq!(v["tiles"][0]["scaleFactors"], json!([1, 2]));
        assert_eq!(v["extraFormats"], json!(["webp", "gif", "tif", "avif"]));
        assert!(v.get("preferredFormats").is_none(), "{v}");
        let text = serde_json::to_string(&v).unwrap();
        assert!(text.starts_with("{\"@context\""), "{text}");
    }

    #[test]
    fn preferred_formats_are_listed_in_order_in_3_0_only() {
        let limits = Limits::default();
        let svc = ImageService {
            id: "http://x/iiif/3/a",
            dimensions: Dimensions::new(10, 10),
            sizes: &[],
            tiles: &[],
            limits: &limits,
            preferred_formats: &[OutputFormat::Avif, OutputFormat::Webp, OutputFormat::Jpg],
        };
        let v3 = svc.to_json(ApiVersion::V3);
        assert_eq!(v3["preferredFormats"], json!(["avif", "webp", "jpg"]));
        let v2 = svc.to_json(ApiVersion::V2);
        assert!(v2.get("preferredFormats").is_none(), "{v2}");
        assert!(!v2.to_string().contains("preferredFormats"), "{v2}");
        assert_eq!(
            v2["profile"][1]["formats"],
            json!(["jpg", "png", "webp", "gif", "tif", "avif"])
        );
    }

    #[test]
    fn v2_document_carries_a_profile_object() {
        let limits = Limits::default();
        let svc = ImageService {
            id: "http://x/iiif/2/a",
            dimensions: Dimensions::new(10, 10),
            sizes: &[],
            tiles: &[],
            limits: &limits,
            preferred_formats: &[OutputFormat::Webp],
        };
        let v = svc.to_json(ApiVersion::V2);
        assert_eq!(v["@id"], "http://x/iiif/2/a");
        // Upscaling is offered, so a maximum is advertised even when none is configured: the image's
        // own size (what `max` gives) and the default maxArea.
        assert_eq!(v["profile"][1]["maxWidth"], 10);
        assert_eq!(v["profile"][1]["maxHeight"], 10);
        assert_eq!(v["profile"][1]["maxArea"], crate::DEFAULT_MAX_AREA);
        assert_eq!(v["profile"][0], "http://iiif.io/api/image/2/level2.json");
        assert!(v["profile"][1]["supports"]
            .as_array()
            .unwrap()
            .contains(&json!("sizeAboveFull")));
    }
}
