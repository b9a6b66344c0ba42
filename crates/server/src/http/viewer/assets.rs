//! The files the viewer pages load, built into the binary: OpenSeadragon (vendored from npm, with its
//! licence), its button images, and Tessera's own script and style sheet. Served under
//! `/viewer-assets/{stamp}/{name}`, where the stamp is a hash of all of them, so a new build's files
//! get new URLs and each can be cached for a year.

use crate::cache::hash_hex;
use std::sync::LazyLock;

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The name after the stamp in its URL.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// The version of the vendored OpenSeadragon.
pub const OPENSEADRAGON_VERSION: &str = "6.1.1";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const PNG: &str = "image/png";
const TEXT: &str = "text/plain; charset=utf-8";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("assets/", $name)),
        }
    };
}

/// Every file served.
pub const ASSETS: &[Asset] = &[
    asset!("openseadragon.min.js", JS),
    asset!("LICENSE-openseadragon.txt", TEXT),
    asset!("viewer.js", JS),
    asset!("viewer.css", CSS),
    asset!("images/zoomin_rest.png", PNG),
    asset!("images/zoomin_grouphover.png", PNG),
    asset!("images/zoomin_hover.png", PNG),
    asset!("images/zoomin_pressed.png", PNG),
    asset!("images/zoomout_rest.png", PNG),
    asset!("images/zoomout_grouphover.png", PNG),
    asset!("images/zoomout_hover.png", PNG),
    asset!("images/zoomout_pressed.png", PNG),
    asset!("images/home_rest.png", PNG),
    asset!("images/home_grouphover.png", PNG),
    asset!("images/home_hover.png", PNG),
    asset!("images/home_pressed.png", PNG),
    asset!("images/fullpage_rest.png", PNG),
    asset!("images/fullpage_grouphover.png", PNG),
    asset!("images/fullpage_hover.png", PNG),
    asset!("images/fullpage_pressed.png", PNG),
];

/// The embedded file called `name`, if any.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// A short hash of every asset's name and bytes: the folder their URLs are under.
pub fn stamp() -> &'static str {
    static STAMP: LazyLock<String> = LazyLock::new(|| {
        let mut all = Vec::new();
        for asset in ASSETS {
            all.extend_from_slice(asset.name.as_bytes());
            all.push(0);
            all.extend_from_slice(asset.bytes);
        }
        hash_hex(&all).chars().take(16).collect()
    });
    &STAMP
}

/// The URL path of the asset `name` (which need not be checked: a wrong name is a 404 there).
pub fn url(name: &str) -> String {
    format!("/viewer-assets/{}/{name}", stamp())
}

/// The one style sheet OpenSeadragon injects itself (a `<style>` element, for touch screens), as its
/// script writes it: the Content-Security-Policy allows exactly this text by its hash.
pub const OPENSEADRAGON_INLINE_STYLE: &str =
    "@media (hover: none) {    .openseadragon-canvas:focus {        outline: none !important;    }}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_there_with_a_type() {
        for asset in ASSETS {
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.name);
            if asset.content_type == PNG {
                assert!(asset.bytes.starts_with(b"\x89PNG"), "{}", asset.name);
            }
        }
        let osd = find("openseadragon.min.js")
            .map(|a| a.bytes)
            .unwrap_or_default();
        let head = String::from_utf8_lossy(&osd[..200.min(osd.len())]).into_owned();
        assert!(
            head.contains(&format!("openseadragon {OPENSEADRAGON_VERSION}")),
            "{head}"
        );
        assert!(find("../Cargo.toml").is_none());
        assert_eq!(stamp().len(), 16);
        assert!(url("viewer.js").starts_with("/viewer-assets/"));
    }

    #[test]
    fn the_inline_style_is_the_one_openseadragon_writes() {
        let osd = find("openseadragon.min.js")
            .map(|a| a.bytes)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(osd);
        assert!(
            text.contains(&format!("textContent=\"{OPENSEADRAGON_INLINE_STYLE}\"")),
            "OpenSeadragon's injected style changed: update OPENSEADRAGON_INLINE_STYLE"
        );
        assert_eq!(
            text.matches("createElement(\"style\")").count(),
            1,
            "OpenSeadragon injects another style element: allow it in the CSP"
        );
    }
}
