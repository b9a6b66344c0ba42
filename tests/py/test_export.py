"""`tessera export`: a static IIIF Level 0 tree, served by real Nginx (Debian's package) as plain
files, with no image server running.

A folder of generated images (one large enough for five levels, a non-square one with odd sides,
one with an identifier under a subfolder with a space, one with alpha, the validator's test image,
and an undecodable file) is exported for 3.0 and 2.1; the validator's image is exported once more
from a list file under its bare identifier. Checked: the exit status and the summary (the broken
file fails, is named, and nothing panics); every tile and size each info.json lists exists at the
URL a client computes (written here from the spec, independently of Tessera) with the right pixel
size; pixels of tiles at several levels against Pillow's own crop and resize of the source; the
official IIIF validator at level 0 for each version; a second run skips, `--force` redoes; and
OpenSeadragon (the vendored 6.1.1, in Debian's headless chromium) opens each version's info.json and
loads its tiles with no failed request.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from conftest import HOST, REPO_ROOT, VALIDATOR_ID, Client, free_port, make_validator_image, tessera_bin
from nginx_helpers import running
from test_validator import listed_tests, run_validator
from test_viewer_browser import chromium_binary

TILE = 256
BIG = (2500, 1700)
ODD = (1025, 769)  # one pixel past a multiple of 512: a level rounds down, a sliver of a tile
OSD_JS = REPO_ROOT / "crates" / "server" / "src" / "http" / "viewer" / "assets" / "openseadragon.min.js"
VERSIONS = {"3.0": "v3", "2.0": "v2"}


def smooth(w: int, h: int, seed: int) -> Image.Image:
    """Colour fields with saturated squares: structure at every level, nothing finer than a few pixels."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([40 + 180 * x / w, 40 + 170 * y / h, 200 - 150 * (x + y) / (w + h)], axis=-1)
    rng = np.random.default_rng(seed)
    side = min(w, h) // 4
    for _ in range(12):
        x0, y0 = rng.integers(0, w - side), rng.integers(0, h - side)
        img[y0 : y0 + rng.integers(side // 3, side), x0 : x0 + rng.integers(side // 3, side)] = rng.integers(0, 256, 3)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8), "RGB")


def run_export(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(tessera_bin()), "export", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(nginx client, web root, sources by identifier, the two first runs)."""
    base = tmp_path_factory.mktemp("export")
    src = base / "images"
    (src / "sub").mkdir(parents=True)
    sources = {
        "big.jpg": smooth(*BIG, 1),
        "odd.png": smooth(*ODD, 2),
        "sub/with space.tif": smooth(300, 200, 3),
    }
    sources["big.jpg"].save(src / "big.jpg", quality=95)
    sources["odd.png"].save(src / "odd.png")
    # 254 dpi: a pixel is 1/254 inch (0.1 mm), which the exported info.json states as physdim.
    sources["sub/with space.tif"].save(src / "sub" / "with space.tif", dpi=(254, 254))
    rgba = smooth(200, 150, 4).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(src / "alpha.png")
    make_validator_image().save(src / f"{VALIDATOR_ID}.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg at all")
    listing = base / "validator.txt"
    listing.write_text(f"{VALIDATOR_ID}\n")

    root = base / "www"
    root.mkdir()
    port = free_port()
    runs = {}
    for version, folder in VERSIONS.items():
        out = root / folder
        common = ["--base-url", f"http://{HOST}:{port}/{folder}", "--version", version[0], "--tile", str(TILE)]
        runs[version] = run_export([str(src), str(out), *common])
        from_list = run_export([str(listing), str(out), "--images", str(src), *common])
        assert from_list.returncode == 0, from_list.stderr
    shutil.copy(OSD_JS, root / "openseadragon.min.js")
    (root / "view.html").write_text(VIEW_HTML)

    d = base / "nginx"
    d.mkdir(parents=True)
    client = Client(port)
    body = f"""    types {{ image/jpeg jpg; text/html html; application/javascript js; }}
    server {{
        listen {HOST}:{port};
        root {root};
        add_header Access-Control-Allow-Origin * always;
        location ~ /info\\.json$ {{
            types {{ }}
            default_type application/ld+json;
            add_header Access-Control-Allow-Origin * always;
        }}
    }}
"""
    with running(d, body, lambda: client.get("/view.html", timeout=2).status == 200):
        yield client, root, sources, runs, src


def info_path(folder: str, identifier: str) -> str:
    return f"/{folder}/{quote(identifier, safe='')}/info.json"


def spec_tiles(info: dict, v3: bool):
    """Every tile URL tail a client computes from info.json (IIIF Image API 3.0 / 2.1, section
    on tiles), with its expected pixel size."""
    w, h = info["width"], info["height"]
    for t in info["tiles"]:
        tw, th = t["width"], t.get("height", t["width"])
        for s in t["scaleFactors"]:
            for row in range(math.ceil(h / (th * s))):
                for col in range(math.ceil(w / (tw * s))):
                    x, y = col * tw * s, row * th * s
                    rw, rh = min(tw * s, w - x), min(th * s, h - y)
                    sw, sh = math.ceil(rw / s), math.ceil(rh / s)
                    region = "full" if (x, y, rw, rh) == (0, 0, w, h) else f"{x},{y},{rw},{rh}"
                    size = f"{sw},{sh}" if v3 else f"{sw},"
                    yield s, (x, y, rw, rh), f"{region}/{size}/0/default.jpg", (sw, sh)


def test_export_runs_report_the_broken_file_and_fail(exported):
    _, root, _, runs, _ = exported
    for version, run in runs.items():
        assert run.returncode == 1, run.stdout + run.stderr
        assert "6 images: 5 exported, 0 skipped (already exported), 1 failed" in run.stdout, run.stdout
        assert "failed: broken.jpg: corrupt (jpeg)" in run.stderr, run.stderr
        assert "panick" not in run.stderr
        assert not (root / VERSIONS[version] / "broken.jpg" / "info.json").exists()


@pytest.mark.parametrize("version", VERSIONS)
def test_every_listed_tile_and_size_is_served(exported, version):
    client, _, sources, _, _ = exported
    folder = VERSIONS[version]
    v3 = version == "3.0"
    for identifier in [*sources, "alpha.png", VALIDATOR_ID]:
        r = client.get(info_path(folder, identifier))
        assert r.status == 200, r
        assert r.header("Access-Control-Allow-Origin") == "*"
        info = r.json()
        assert info["id" if v3 else "@id"] == f"{client.base}/{folder}/{quote(identifier, safe='')}"
        assert info["profile"] == ("level0" if v3 else ["http://iiif.io/api/image/2/level0.json"])
        if identifier in sources:
            assert (info["width"], info["height"]) == sources[identifier].size
        count = 0
        for _, _, tail, size in spec_tiles(info, v3):
            t = client.get(f"/{folder}/{quote(identifier, safe='')}/{tail}")
            assert t.status == 200, (identifier, tail, t)
            assert t.image().size == size, (identifier, tail)
            count += 1
        assert count >= 1
        for s in info["sizes"]:
            tail = f"full/{s['width']},{s['height']}" if v3 else f"full/{s['width']},"
            t = client.get(f"/{folder}/{quote(identifier, safe='')}/{tail}/0/default.jpg")
            assert t.status == 200, (identifier, tail, t)
            assert t.image().size == (s["width"], s["height"])
        # The full size, when small enough to be listed, also under its canonical name; 3.0 has
        # no `full` size.
        full = client.get(f"/{folder}/{quote(identifier, safe='')}/full/{'max' if v3 else 'full'}/0/default.jpg")
        if {"width": info["width"], "height": info["height"]} in [{k: s[k] for k in ("width", "height")} for s in info["sizes"]]:
            assert full.status == 200 and full.image().size == (info["width"], info["height"])
        else:
            assert full.status == 404
        if v3:
            assert client.get(f"/{folder}/{quote(identifier, safe='')}/full/full/0/default.jpg").status == 404


def test_the_big_image_has_several_levels_and_bounded_sizes(exported):
    client, _, _, _, _ = exported
    info = client.get(info_path("v3", "big.jpg")).json()
    assert info["tiles"] == [{"type": "Tile", "width": TILE, "height": TILE, "scaleFactors": [1, 2, 4, 8, 16]}]
    assert [(s["width"], s["height"]) for s in info["sizes"]] == [
        (157, 107), (313, 213), (625, 425), (1250, 850)
    ], "2500x1700 is over the 4 Mpx default of --sizes-up-to"
    odd = client.get(info_path("v3", "odd.png")).json()
    assert odd["tiles"][0]["scaleFactors"] == [1, 2, 4]
    assert client.get("/v3/odd.png/1024,0,1,512/1,256/0/default.jpg").image().size == (1, 256)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_stated_resolution_is_a_physdim_service(exported, version):
    client, _, _, _, _ = exported
    folder = VERSIONS[version]
    info = client.get(info_path(folder, "sub/with space.tif")).json()
    services = info.get("service", [])
    services = services if isinstance(services, list) else [services]
    physdim = [s for s in services if s.get("profile") == "http://iiif.io/api/annex/services/physdim"]
    assert len(physdim) == 1, info
    scale, units = physdim[0]["physicalScale"], physdim[0]["physicalUnits"]
    assert units == "in" and scale == pytest.approx(1 / 254), physdim
    own = info["id" if version == "3.0" else "@id"]
    assert physdim[0]["id" if version == "3.0" else "@id"] == f"{own}#physdim"
    # An image that states none has none.
    plain = client.get(info_path(folder, "big.jpg")).json()
    assert "physdim" not in json.dumps(plain.get("service", []))


@pytest.mark.parametrize("version", VERSIONS)
def test_tile_pixels_match_pillow(exported, version, report):
    client, _, sources, _, _ = exported
    folder = VERSIONS[version]
    worst = worst_colour = worst_rgb = 0.0
    for identifier in ["big.jpg", "odd.png"]:
        info = client.get(info_path(folder, identifier)).json()
        source = sources[identifier]
        tiles = list(spec_tiles(info, version == "3.0"))
        # The first, the last (a right and bottom edge tile) and one in the middle of every level.
        picked = []
        for s in {t[0] for t in tiles}:
            level = [t for t in tiles if t[0] == s]
            picked += [level[0], level[len(level) // 2], level[-1]]
        for s, (x, y, w, h), tail, size in picked:
            got = client.get(f"/{folder}/{quote(identifier, safe='')}/{tail}").image().convert("RGB")
            want = source.crop((x, y, x + w, y + h)).resize(size, Image.LANCZOS)
            # Luma: JPEG keeps it at full resolution, so any error of geometry or resampling shows
            # there; chroma is subsampled by JPEG itself (Pillow's own JPEG of the reference at
            # quality 85 is off by ~3.4 in RGB on the 1/16 level's saturated edges), so colour is
            # checked as the mean of each channel.
            a, b = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
            luma = np.abs(np.asarray(got.convert("L"), dtype=float) - np.asarray(want.convert("L"), dtype=float)).mean()
            colour = np.abs(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1))).max()
            worst = max(worst, luma)
            worst_colour = max(worst_colour, colour)
            worst_rgb = max(worst_rgb, np.abs(a - b).mean())
            assert luma <= 2.5, f"{identifier} {tail} (scale {s}): mean absolute luma error {luma:.2f}"
            assert colour <= 2.0, f"{identifier} {tail} (scale {s}): mean colour off by {colour:.2f}"
    report(
        f"export {version}: tiles against Pillow's crop and resize: worst mean absolute luma error "
        f"{worst:.2f}, worst channel mean {worst_colour:.2f} (RGB mean absolute error up to {worst_rgb:.2f})"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_validator_level0(exported, version, report):
    client, _, _, _, _ = exported
    run = run_validator(client.port, version, ["--level", "0"], prefix=VERSIONS[version])
    expected = sorted(n for n, t in listed_tests(version).items() if t["level"] == 0)
    results = run["results"]
    passed = sorted(n for n, r in results.items() if r["status"] == "PASS")
    report(f"iiif-validator {version} level 0 on the exported tree: {len(passed)}/{len(expected)} passed ({run['done']})")
    for name in expected:
        assert name in results, run["output"][-1500:]
        assert results[name]["status"] == "PASS", f"{name}: " + "\n".join(results[name]["detail"])
    assert run["rc"] == 0, run["output"][-1500:]


def test_a_second_run_skips_and_force_redoes(exported, tmp_path):
    client, root, _, _, src = exported
    out = root / "v3"
    base = ["--base-url", f"{client.base}/v3", "--tile", str(TILE)]
    again = run_export([str(src), str(out), *base])
    assert "5 skipped (already exported), 1 failed" in again.stdout, again.stdout
    info = out / "odd.png" / "info.json"
    before = info.read_bytes()
    forced = run_export([str(src), str(out), *base, "--force", "--jobs", "1"])
    assert "5 exported, 0 skipped" in forced.stdout, forced.stdout
    assert info.read_bytes() == before
    # A half-written tree (no info.json) is exported again, and a bad --base-url is refused.
    info.unlink()
    redo = run_export([str(src), str(out), *base])
    assert "1 exported, 4 skipped" in redo.stdout, redo.stdout
    assert info.read_bytes() == before
    bad = run_export([str(src), str(tmp_path / "x"), "--base-url", "ftp://nope"])
    assert bad.returncode != 0 and "--base-url" in bad.stderr


VIEW_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>export</title><link rel="icon" href="data:,"></head>
<body style="margin:0">
<div id="viewer" style="width:1000px;height:700px"></div>
<script src="/openseadragon.min.js"></script>
<script>
const params = new URLSearchParams(location.search);
window.failedTiles = [];
window.opened = false;
const viewer = OpenSeadragon({ id: "viewer", tileSources: params.get("info"), showNavigationControl: false,
                               animationTime: 0.1, immediateRender: false });
viewer.addHandler("open", () => { window.opened = true; });
viewer.addHandler("open-failed", e => { window.failedTiles.push("open: " + e.message); });
viewer.addHandler("tile-load-failed", e => { window.failedTiles.push(e.message + " " + (e.tile && e.tile.getUrl())); });
window.viewer = viewer;
</script></body></html>
"""

SETTLED = """() => {
  const v = window.viewer;
  if (!window.opened || !v) return false;
  const item = v.world.getItemAt(0);
  return !!item && item.getFullyLoaded() && Math.abs(v.viewport.getZoom(true) - v.viewport.getZoom(false)) < 1e-9;
}"""


@pytest.mark.parametrize("identifier", ["big.jpg", "odd.png"])
def test_openseadragon_shows_the_tree(exported, identifier, report):
    chromium = chromium_binary()
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    client, _, sources, _, _ = exported
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            for version, folder in VERSIONS.items():
                page = browser.new_page(viewport={"width": 1000, "height": 700}, device_scale_factor=1)
                bad: list[str] = []
                tiles: list[str] = []
                errors: list[str] = []
                page.on("requestfailed", lambda r: bad.append(f"{r.url}: {r.failure}"))
                page.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
                page.on("request", lambda r: tiles.append(r.url) if r.url.endswith("/default.jpg") else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                info = info_path(folder, identifier)
                page.goto(f"{client.base}/view.html?info={quote(info)}")
                page.wait_for_function(SETTLED, timeout=30_000)
                home = len(tiles)
                size = page.evaluate("() => { const s = viewer.world.getItemAt(0).getContentSize(); return [s.x, s.y]; }")
                assert size == list(sources[identifier].size)
                # All the way in (OpenSeadragon's maximum zoom) and to the bottom right corner.
                page.evaluate("() => { viewer.viewport.zoomTo(viewer.viewport.getMaxZoom()); viewer.viewport.panTo(new OpenSeadragon.Point(0.999, viewer.world.getItemAt(0).getBounds().height * 0.999)); }")
                page.wait_for_function(SETTLED, timeout=30_000)
                failed = page.evaluate("() => window.failedTiles")
                report(f"OpenSeadragon {version} {identifier}: {home} tiles for the home view, {len(tiles)} after zooming in")
                assert home > 0, "the home view was drawn without a single tile request"
                # Zoomed in all the way, full-resolution tiles (region as wide as the output) were drawn.
                full_res = [u for u in tiles if re.search(r"/(\d+),\d+,(\d+),\d+/\2,", u)]
                assert full_res, tiles
                assert not failed, failed
                assert not bad, bad
                assert not errors, errors
                page.close()
        finally:
            browser.close()
