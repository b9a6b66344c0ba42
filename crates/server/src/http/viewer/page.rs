//! The HTML of the viewer pages, from the templates beside this file. Pure: data in, markup out;
//! every identifier is escaped for HTML and percent-encoded in URLs here.

use super::assets;
use super::html::{escape, fill, url_segment};
use tessera_iiif::{ApiVersion, Mounts};

const LAYOUT: &str = include_str!("templates/layout.html");
const INDEX: &str = include_str!("templates/index.html");
const CARD: &str = include_str!("templates/card.html");
const VIEWER: &str = include_str!("templates/viewer.html");
const ERROR: &str = include_str!("templates/error.html");

/// Images on one page of the index.
pub const PAGE_SIZE: usize = 48;

/// The thumbnail request on the index: an ordinary IIIF URL, so it shares the caches. `^` (written
/// `%5E`) lets images under 200 px fit the box too, where 3.0's `!200,200` alone is a 400 (up to
/// `limits.max_scale` times their size).
pub const THUMBNAIL: &str = "full/%5E!200,200/0/default.jpg";

/// What the index page shows.
#[derive(Debug, Clone, Copy)]
pub struct IndexView<'a> {
    /// Every identifier listed, sorted.
    pub identifiers: &'a [String],
    /// The page shown, from 1.
    pub page: usize,
    /// Why some images are not listed (remote sources, a bound reached).
    pub notes: &'a [String],
    /// Folders whose listing failed.
    pub errors: &'a [String],
    /// Whether some sources are buckets or origins, which are not listed.
    pub remote_sources: bool,
    /// Where the IIIF services are mounted.
    pub mounts: &'a Mounts,
}

/// How many index pages `count` images take (at least one, which may be empty).
pub fn page_count(count: usize) -> usize {
    count.div_ceil(PAGE_SIZE).max(1)
}

/// `/viewer/{identifier}`.
pub fn viewer_url(identifier: &str) -> String {
    format!("/viewer/{}", url_segment(identifier))
}

/// `{mount}/{identifier}/{tail}` of `version`: `/iiif/3/…` by default.
fn iiif_url(mounts: &Mounts, version: ApiVersion, identifier: &str, tail: &str) -> String {
    format!(
        "{}/{tail}",
        mounts.service_path(version, &url_segment(identifier))
    )
}

fn layout(title: &str, class: &str, content: &str, scripts: &str) -> String {
    fill(
        LAYOUT,
        &[
            ("title", &escape(title)),
            ("css", &escape(&assets::url("viewer.css"))),
            ("class", class),
            ("content", content),
            ("scripts", scripts),
        ],
    )
}

/// The index page: one page of images with thumbnails, links to the viewer and to both
/// `info.json`s, and the way to the other pages. `None` when `view.page` is past the last page.
pub fn index(view: IndexView<'_>) -> Option<String> {
    let total = view.identifiers.len();
    let pages = page_count(total);
    if view.page == 0 || view.page > pages {
        return None;
    }
    let first = (view.page - 1) * PAGE_SIZE;
    let shown = view.identifiers.iter().skip(first).take(PAGE_SIZE);
    let m = view.mounts;
    let cards: String = shown
        .map(|id| {
            fill(
                CARD,
                &[
                    ("viewer", &escape(&viewer_url(id))),
                    (
                        "thumb",
                        &escape(&iiif_url(m, ApiVersion::V3, id, THUMBNAIL)),
                    ),
                    ("name", &escape(id)),
                    (
                        "info3",
                        &escape(&iiif_url(m, ApiVersion::V3, id, "info.json")),
                    ),
                    (
                        "info2",
                        &escape(&iiif_url(m, ApiVersion::V2, id, "info.json")),
                    ),
                ],
            )
        })
        .collect();
    let summary = match total {
        0 => "No images were found in the image folders.".to_string(),
        1 => "1 image in the image folders.".to_string(),
        n if pages == 1 => format!("{n} images in the image folders."),
        n => format!(
            "{n} images in the image folders; {}–{} are shown.",
            first + 1,
            (first + PAGE_SIZE).min(total)
        ),
    };
    let mut notes: Vec<String> = Vec::new();
    if view.remote_sources {
        notes.push(
            "Only folder sources are listed here. An image from a bucket or an HTTP origin opens \
             by its identifier at /viewer/{identifier}, or with the box below."
                .to_string(),
        );
    }
    notes.extend(view.notes.iter().cloned());
    let mut notes_html: String = notes
        .iter()
        .map(|n| format!("<li>{}</li>\n", escape(n)))
        .collect();
    notes_html.extend(
        view.errors
            .iter()
            .map(|e| format!("<li class=\"error\">{}</li>\n", escape(e))),
    );
    if !notes_html.is_empty() {
        notes_html = format!("<ul class=\"notes\">\n{notes_html}</ul>");
    }
    let content = fill(
        INDEX,
        &[
            ("summary", &escape(&summary)),
            ("notes", &notes_html),
            ("cards", &cards),
            ("pager", &pager(view.page, pages)),
        ],
    );
    let title = match pages {
        1 => "Images".to_string(),
        _ => format!("Images, page {} of {pages}", view.page),
    };
    Some(layout(&title, "index", &content, ""))
}

/// Links to the previous and next pages, or nothing when there is one page.
fn pager(page: usize, pages: usize) -> String {
    if pages <= 1 {
        return String::new();
    }
    let mut out = String::from("<nav class=\"pager\">");
    if page > 1 {
        out.push_str(&format!(
            "<a rel=\"prev\" href=\"/?page={}\">← Previous</a> ",
            page - 1
        ));
    }
    out.push_str(&format!("<span>Page {page} of {pages}</span>"));
    if page < pages {
        out.push_str(&format!(
            " <a rel=\"next\" href=\"/?page={}\">Next →</a>",
            page + 1
        ));
    }
    out.push_str("</nav>");
    out
}

/// The viewer page of `identifier`: OpenSeadragon on its 3.0 `info.json`, with links to both.
pub fn viewer(mounts: &Mounts, identifier: &str) -> String {
    let m = mounts;
    let info3 = iiif_url(m, ApiVersion::V3, identifier, "info.json");
    let content = fill(
        VIEWER,
        &[
            ("name", &escape(identifier)),
            ("info3", &escape(&info3)),
            (
                "info2",
                &escape(&iiif_url(m, ApiVersion::V2, identifier, "info.json")),
            ),
            ("prefix", &escape(&assets::url("images/"))),
            (
                "full",
                &escape(&iiif_url(
                    m,
                    ApiVersion::V3,
                    identifier,
                    "full/max/0/default.jpg",
                )),
            ),
            ("osd", assets::OPENSEADRAGON_VERSION),
            (
                "licence",
                &escape(&assets::url("LICENSE-openseadragon.txt")),
            ),
        ],
    );
    let scripts = format!(
        "<script src=\"{}\"></script>\n<script src=\"{}\"></script>",
        escape(&assets::url("openseadragon.min.js")),
        escape(&assets::url("viewer.js"))
    );
    layout(identifier, "viewer-page", &content, &scripts)
}

/// A page that says what went wrong, with the way back to the index.
pub fn error(heading: &str, message: &str) -> String {
    let content = fill(
        ERROR,
        &[("heading", &escape(heading)), ("message", &escape(message))],
    );
    layout(heading, "error-page", &content, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("img-{i:03}.png")).collect()
    }

    static DEFAULT: std::sync::LazyLock<Mounts> = std::sync::LazyLock::new(Mounts::default);

    fn view(identifiers: &[String], page: usize) -> IndexView<'_> {
        IndexView {
            identifiers,
            page,
            notes: &[],
            errors: &[],
            remote_sources: false,
            mounts: &DEFAULT,
        }
    }

    #[test]
    fn urls_follow_the_mount_points() {
        let mounts = Mounts::new("/", "/iiif/v3").unwrap();
        let all = vec!["a.png".to_string()];
        let html = index(IndexView {
            mounts: &mounts,
            ..view(&all, 1)
        })
        .unwrap_or_default();
        assert!(html.contains("src=\"/iiif/v3/a.png/full/%5E!200,200/0/default.jpg\""));
        assert!(html.contains("href=\"/a.png/info.json\""), "{html}");
        let page = viewer(&mounts, "a.png");
        assert!(page.contains("data-info=\"/iiif/v3/a.png/info.json\""));
        assert!(page.contains("href=\"/a.png/info.json\""));
    }

    #[test]
    fn pages_hold_page_size_images() {
        let all = ids(PAGE_SIZE * 2 + 1);
        assert_eq!(page_count(all.len()), 3);
        assert_eq!(page_count(0), 1);
        let first = index(view(&all, 1)).unwrap_or_default();
        assert_eq!(first.matches("class=\"card\"").count(), PAGE_SIZE);
        assert!(first.contains("img-000.png") && first.contains("img-047.png"));
        assert!(!first.contains("img-048.png"));
        assert!(first.contains("href=\"/?page=2\"") && !first.contains("rel=\"prev\""));
        let last = index(view(&all, 3)).unwrap_or_default();
        assert_eq!(last.matches("class=\"card\"").count(), 1);
        assert!(last.contains("img-096.png") && last.contains("Page 3 of 3"));
        assert!(last.contains("href=\"/?page=2\"") && !last.contains("rel=\"next\""));
        assert!(index(view(&all, 4)).is_none());
        assert!(index(view(&all, 0)).is_none());
        let empty = index(view(&[], 1)).unwrap_or_default();
        assert!(empty.contains("No images were found"));
        assert!(!empty.contains("pager"));
    }

    #[test]
    fn cards_link_the_viewer_thumbnail_and_both_info_json() {
        let all = vec!["figures/a b.png".to_string()];
        let html = index(view(&all, 1)).unwrap_or_default();
        assert!(
            html.contains("href=\"/viewer/figures%2Fa%20b.png\""),
            "{html}"
        );
        assert!(html.contains("src=\"/iiif/3/figures%2Fa%20b.png/full/%5E!200,200/0/default.jpg\""));
        assert!(html.contains("href=\"/iiif/3/figures%2Fa%20b.png/info.json\""));
        assert!(html.contains("href=\"/iiif/2/figures%2Fa%20b.png/info.json\""));
        assert!(html.contains(">figures/a b.png</a>"));
    }

    #[test]
    fn identifiers_and_notes_are_escaped() {
        let hostile = "<script>alert(\"x\")</script>&'{{cards}}.png".to_string();
        let all = [hostile.clone()];
        let notes = ["note <b>".to_string()];
        let html = index(IndexView {
            notes: &notes,
            remote_sources: true,
            ..view(&all, 1)
        })
        .unwrap_or_default();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html
            .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;{{cards}}.png"));
        assert!(html.contains(
            "/viewer/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26%27%7B%7Bcards%7D%7D.png"
        ));
        assert!(html.contains("note &lt;b&gt;") && html.contains("Only folder sources are listed"));
        let page = viewer(&DEFAULT, &hostile);
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("<title>&lt;script&gt;"));
        assert!(page.contains(
            "data-info=\"/iiif/3/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26%27%7B%7Bcards%7D%7D.png/info.json\""
        ));
        let err = error("Not found", "no image <i>");
        assert!(err.contains("no image &lt;i&gt;"));
    }

    #[test]
    fn the_viewer_page_loads_only_embedded_scripts() {
        let page = viewer(&DEFAULT, "lax:13410/fig4.tif");
        assert!(page.contains("data-info=\"/iiif/3/lax:13410%2Ffig4.tif/info.json\""));
        assert!(page.contains("href=\"/iiif/2/lax:13410%2Ffig4.tif/info.json\""));
        for src in page.split("<script src=\"").skip(1) {
            assert!(src.starts_with("/viewer-assets/"), "{src}");
        }
        assert_eq!(page.matches("<script").count(), 2, "no inline script");
        assert!(!page.contains("{{"), "every placeholder filled");
        assert!(!index(view(&ids(3), 1)).unwrap_or_default().contains("{{"));
    }
}
