"""The viewer in the box, in a real browser: headless Chromium (Debian's `chromium`, driven by
Playwright, which never downloads a browser here) opens `/`, clicks into an image, waits until
OpenSeadragon has drawn the home view, zooms in with the viewer's own button (more than 2x), and checks that no tile
failed, nothing was refused or logged as an error (a Content-Security-Policy violation is a console
error too), every request stayed on this server, and what was drawn is the image: the home view
against Tessera's thumbnail and against Pillow's own downscale of the source, the zoomed view
against Pillow's crop of the region OpenSeadragon says it shows.

`scripts/test.sh` installs `chromium` when missing; without it this test is skipped, saying so.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from conftest import HOST, Server

ZOOM_ID = "figures/zoom me.jpg"
ZOOM_URL_ID = "figures%2Fzoom%20me.jpg"
SIZE = (2400, 1600)


def chromium_binary() -> str | None:
    """Debian's chromium: the real binary (its /usr/bin wrapper script only adds flags)."""
    for candidate in (os.environ.get("CHROMIUM_BIN"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def make_zoom_image() -> Image.Image:
    """2400x1600: smooth colour fields, a grid of saturated squares and fine stripes, so that the home
    view, a thumbnail and a zoomed-in view each have structure to compare."""
    w, h = SIZE
    y, x = np.mgrid[0:h, 0:w]
    r = 40 + 180 * x / w
    g = 40 + 170 * y / h
    b = 200 - 150 * (x + y) / (w + h)
    img = np.stack([r, g, b], axis=-1)
    palette = np.array([[230, 30, 30], [20, 160, 60], [30, 60, 220], [250, 220, 30], [10, 10, 10], [250, 250, 250]])
    for i in range(6):
        for j in range(4):
            x0, y0 = 150 + i * 370, 150 + j * 370
            img[y0 : y0 + 220, x0 : x0 + 220] = palette[(i + j) % len(palette)]
    stripes = ((x // 12) % 2 == 0) & (y > 1450)
    img[stripes] = [0, 0, 0]
    return Image.fromarray(img.clip(0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def viewer_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("viewer")
    root = base / "images"
    (root / "figures").mkdir(parents=True)
    source = make_zoom_image()
    source.save(root / "figures" / "zoom me.jpg", quality=95)
    Image.new("RGB", (128, 96), (200, 60, 20)).save(root / "small.png")
    make_zoom_image().resize((600, 400)).save(root / "other.tif")
    server = Server(root, [], base / "tessera.log", ready_path="/health/ready")
    yield server, source
    server.stop()


def tile_scale(url: str) -> float | None:
    """The scale factor of a IIIF tile request of the zoom image (region width over output width)."""
    path = urlsplit(url).path
    m = re.fullmatch(rf"/iiif/3/{re.escape(ZOOM_URL_ID)}/(\d+),(\d+),(\d+),(\d+)/(\d+),(\d*)/0/default\.jpg", path)
    if not m:
        return None
    return int(m.group(3)) / int(m.group(5))


def compare(drawn: Image.Image, reference: Image.Image, what: str, report) -> None:
    """Mean colour within 8 levels and a 24x16 grid of cells within 16 on average; not blank."""
    a = np.asarray(drawn.convert("RGB").resize((24, 16), Image.BOX), dtype=float)
    b = np.asarray(reference.convert("RGB").resize((24, 16), Image.BOX), dtype=float)
    mean_diff = np.abs(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1)))
    cell_diff = np.abs(a - b).mean()
    spread = np.asarray(drawn.convert("L"), dtype=float).std()
    report(
        f"viewer {what}: mean colour difference {mean_diff.round(1).tolist()}, cell difference "
        f"{cell_diff:.1f}, luminance spread {spread:.1f}"
    )
    assert spread > 25, f"{what}: the drawing is nearly blank (spread {spread:.1f})"
    assert mean_diff.max() < 8, f"{what}: mean colour {a.mean(axis=(0, 1))} against {b.mean(axis=(0, 1))}"
    assert cell_diff < 16, f"{what}: cells differ by {cell_diff:.1f} on average"


SETTLED = """() => {
  const t = window.tessera;
  if (!t || !t.opened || !t.viewer) return false;
  const v = t.viewer, item = v.world.getItemAt(0);
  if (!item || !item.getFullyLoaded()) return false;
  const vp = v.viewport, c = vp.getCenter(true), target = vp.getCenter(false);
  return Math.abs(vp.getZoom(true) - vp.getZoom(false)) < 1e-9
    && Math.abs(c.x - target.x) < 1e-9 && Math.abs(c.y - target.y) < 1e-9;
}"""

# Two animation frames: what was loaded has been painted.
PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def canvas_shot(page) -> Image.Image:
    """The viewer's drawing area with its buttons and navigator hidden, at one pixel per CSS pixel."""
    page.evaluate("() => window.tessera.viewer.controls.forEach(c => c.setVisible(false))")
    page.evaluate(PAINTED)
    png = page.locator("#viewer > .openseadragon-container > .openseadragon-canvas").screenshot()
    page.evaluate("() => window.tessera.viewer.controls.forEach(c => c.setVisible(true))")
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_the_viewer_in_a_browser(viewer_server, report):
    chromium = chromium_binary()
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    server, source = viewer_server
    base = server.client.base
    console_errors: list[str] = []
    page_errors: list[str] = []
    failed: list[str] = []
    bad_status: list[str] = []
    elsewhere: list[str] = []
    tiles: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            page.on("response", lambda r: bad_status.append(f"{r.status} {r.url}") if r.status >= 400 else None)

            def on_request(r):
                if not (r.url.startswith(base + "/") or r.url.startswith("data:")):
                    elsewhere.append(r.url)
                if tile_scale(r.url) is not None:
                    tiles.append(r.url)

            page.on("request", on_request)

            # The index: every image of the folder, each thumbnail drawn.
            page.goto(base + "/")
            names = page.locator("a.name").all_inner_texts()
            assert names == ["figures/zoom me.jpg", "other.tif", "small.png"], names
            page.wait_for_function(
                "() => Array.from(document.images).length === 3 && "
                "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            )
            thumb_sizes = page.evaluate("() => Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
            assert thumb_sizes == [[200, 133], [200, 133], [200, 150]], thumb_sizes

            # Into the viewer.
            page.get_by_role("link", name=ZOOM_ID).click()
            page.wait_for_url(f"{base}/viewer/{ZOOM_URL_ID}")
            assert page.title() == f"{ZOOM_ID} · Tessera"
            page.wait_for_function(SETTLED, timeout=30_000)
            home_tiles = list(tiles)
            assert home_tiles, "the home view was drawn without a single tile request"
            content = page.evaluate("() => { const s = tessera.viewer.world.getItemAt(0).getContentSize(); return [s.x, s.y]; }")
            assert content == list(SIZE)
            rect = page.evaluate(
                """() => { const v = tessera.viewer, item = v.world.getItemAt(0);
                   const r = v.viewport.viewportToViewerElementRectangle(item.getBounds(true));
                   return [r.x, r.y, r.width, r.height]; }"""
            )
            home = canvas_shot(page)
            x, y, w, h = rect
            assert w > 400 and h > 250, f"the image is drawn at {rect} in a {home.size} viewer"
            drawn = home.crop((round(x) + 2, round(y) + 2, round(x + w) - 2, round(y + h) - 2))
            thumb = server.client.get(f"/iiif/3/{ZOOM_URL_ID}/full/%5E!200,200/0/default.jpg")
            assert thumb.status == 200, thumb
            compare(drawn, thumb.image(), "home view vs Tessera's thumbnail", report)
            compare(drawn, source.resize(drawn.size, Image.LANCZOS), "home view vs Pillow's downscale", report)

            # Zoom in twice with the viewer's button (2x each, on the centre; OpenSeadragon stops at
            # 1.1 screen pixels per image pixel).
            home_zoom, max_zoom = page.evaluate("() => [tessera.viewer.viewport.getZoom(true), tessera.viewer.viewport.getMaxZoom()]")
            zoom_in = page.locator('#viewer div[title="Zoom in"]')
            for _ in range(2):
                zoom_in.click()
            page.wait_for_function(SETTLED, timeout=30_000)
            zoom = page.evaluate("() => tessera.viewer.viewport.getZoom(true)")
            assert zoom == pytest.approx(min(4 * home_zoom, max_zoom), rel=0.01)
            assert zoom > 2 * home_zoom
            zoomed_tiles = tiles[len(home_tiles) :]
            assert zoomed_tiles, "zooming in fetched no tiles"
            home_scale = min(tile_scale(u) for u in home_tiles)
            zoomed_scale = min(tile_scale(u) for u in zoomed_tiles)
            report(
                f"viewer tiles: {len(home_tiles)} for the home view (scale factor {home_scale:g}), "
                f"{len(zoomed_tiles)} more zoomed in (scale factor {zoomed_scale:g})"
            )
            assert zoomed_scale < home_scale, "zooming in did not fetch more detailed tiles"
            region = page.evaluate(
                """() => { const v = tessera.viewer, item = v.world.getItemAt(0);
                   const r = item.viewportToImageRectangle(v.viewport.getBounds(true));
                   return [r.x, r.y, r.width, r.height]; }"""
            )
            rx, ry, rw, rh = region
            assert rx > 0 and ry > 0 and rx + rw < SIZE[0] and ry + rh < SIZE[1], region
            zoomed = canvas_shot(page)
            crop = source.crop((round(rx), round(ry), round(rx + rw), round(ry + rh)))
            compare(zoomed, crop.resize(zoomed.size, Image.LANCZOS), "zoomed view vs Pillow's crop", report)

            state = page.evaluate("() => ({failures: tessera.tileFailures, openFailed: tessera.openFailed, loaded: tessera.tilesLoaded})")
            assert state["failures"] == [] and state["openFailed"] is None, state
            assert state["loaded"] >= len(home_tiles) + len(zoomed_tiles) - 2, (state, len(tiles))
            status = page.locator("#viewer-status").inner_text()
            assert status.startswith("2400 × 1600 pixels"), status

            # The 2.1 info.json link of the page works too.
            info2 = page.get_by_role("link", name="info.json (Image API 2.1)").get_attribute("href")
            assert info2 == f"/iiif/2/{ZOOM_URL_ID}/info.json"
            assert server.client.get(info2).json()["width"] == SIZE[0]
        finally:
            browser.close()

    assert console_errors == [], console_errors
    assert page_errors == [], page_errors
    assert failed == [], failed
    assert bad_status == [], bad_status
    assert elsewhere == [], f"requests left the server: {elsewhere}"
    assert all(unquote(u).startswith(f"{base}/iiif/3/{ZOOM_ID}/") for u in tiles)


def test_an_unknown_identifier_is_a_404_page(viewer_server):
    server, _ = viewer_server
    r = server.client.get("/viewer/no%20such%3Cimage%3E")
    assert r.status == 404
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert b"no such&lt;image&gt;" in r.body and b"<image>" not in r.body
    assert "script-src 'self'" in r.header("Content-Security-Policy")


def test_startup_points_to_the_viewer(viewer_server):
    server, _ = viewer_server
    log = server.log_tail(10**6)
    assert f"Viewer: http://{HOST}:{server.port}/ " in log, log[:2000]
