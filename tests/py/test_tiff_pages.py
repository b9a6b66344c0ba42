"""TIFF directory chains that are not pyramids, and WebP-compressed tiles, through the real server.

Multi-page files written by tifffile (pages unmarked, NewSubfileType 0): a later page is never a
reduced level, whatever its size; info.json lists no stored level for it and every read comes
from page 1. A page marked reduced (subfiletype=1) of the same aspect still is a level.
WebP-tiled pyramids are written by the `vips` CLI when it is installed (the test skips otherwise)."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import VALIDATOR_ID, Server

W, H = 800, 600


def _page(w: int, h: int, seed: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), np.full_like(x, seed)], axis=-1)
    return rgb.astype(np.uint8)


# name -> pages after the first: (array, subfiletype)
VARIANTS = {
    # A smaller page of another aspect.
    "other_aspect": [(_page(300, 500, 200), 0)],
    # A second full page of the same size, then a smaller page of the same aspect.
    "same_size_then_smaller": [(_page(W, H, 150), 0), (_page(W // 2, H // 2, 100), 0)],
    # A smaller page of the same aspect but gray: another image, not a reduction.
    "gray_same_aspect": [(np.full((H // 2, W // 2), 77, np.uint8), 0)],
    # Control: marked reduced, same aspect: a level.
    "marked_level": [(_page(W // 2, H // 2, 60), 1)],
}


@pytest.fixture(scope="module")
def pages(images, tmp_path_factory):
    root = tmp_path_factory.mktemp("pages-root")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    first = _page(W, H, 10)
    opts = dict(tile=(256, 256), compression="zlib", metadata=None)
    for name, rest in VARIANTS.items():
        with tifffile.TiffWriter(root / f"{name}.tif") as tif:
            tif.write(first, photometric="rgb", **opts)
            for arr, subfiletype in rest:
                tif.write(arr, photometric="rgb" if arr.ndim == 3 else "minisblack", subfiletype=subfiletype, **opts)
    server = Server(root, [], tmp_path_factory.mktemp("log") / "tessera-pages.log")
    yield server.client, root, first
    server.stop()


def _png(r) -> np.ndarray:
    assert r.status == 200, r
    return np.asarray(Image.open(io.BytesIO(r.body)).convert("RGB")).astype(int)


@pytest.mark.parametrize("name", [n for n in VARIANTS if n != "marked_level"])
def test_later_pages_are_not_levels(pages, name):
    client, _, first = pages
    info = client.get(f"/iiif/3/{name}.tif/info.json").json()
    assert (info["width"], info["height"]) == (W, H)
    sizes = [(s["width"], s["height"]) for s in info["sizes"]]
    # Without stored levels the sizes are the default halvings of page 1, never another page's size.
    assert (300, 500) not in sizes
    # Reads at every scale come from page 1 (its blue channel is 10 everywhere).
    for size in ("max", "400,300", "200,150", "100,75"):
        got = _png(client.get(f"/iiif/3/{name}.tif/full/{size}/0/default.png"))
        assert np.abs(got[..., 2] - 10).max() <= 1, (name, size)
    got = _png(client.get(f"/iiif/3/{name}.tif/0,0,800,600/800,600/0/default.png"))
    assert np.array_equal(got, first.astype(int))


def test_a_marked_reduced_page_is_a_level(pages):
    client, _, _ = pages
    info = client.get("/iiif/3/marked_level.tif/info.json").json()
    sizes = [(s["width"], s["height"]) for s in info["sizes"]]
    assert sizes == [(W // 2, H // 2), (W, H)], sizes
    got = _png(client.get(f"/iiif/3/marked_level.tif/full/{W // 2},{H // 2}/0/default.png"))
    assert np.abs(got[..., 2] - 60).max() <= 1  # read from the stored level


def test_webp_tiled_pyramid_from_vips(images, tmp_path_factory, report):
    vips = shutil.which("vips")
    if vips is None:
        pytest.skip("vips CLI not installed")
    root = tmp_path_factory.mktemp("webp-root")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    src = root / "src.png"
    y, x = np.mgrid[0:1200, 0:1600]
    rgb = np.stack([x * 255 // 1599, y * 255 // 1199, ((x // 40 + y // 40) % 2) * 255], axis=-1).astype(np.uint8)
    Image.fromarray(rgb, "RGB").save(src)
    out = root / "webp.tif"
    subprocess.run(
        [vips, "tiffsave", str(src), str(out), "--tile", "--pyramid", "--compression", "webp", "--Q", "90"],
        check=True,
        capture_output=True,
    )
    assert tifffile.TiffFile(out).pages[0].compression == 50001
    server = Server(root, [], tmp_path_factory.mktemp("log") / "tessera-webp.log")
    try:
        client = server.client
        info = client.get("/iiif/3/webp.tif/info.json").json()
        assert (info["width"], info["height"]) == (1600, 1200)
        worst = 0.0
        for region, size in (("full", "1600,1200"), ("300,200,512,256", "512,256"), ("full", "400,300")):
            got = _png(client.get(f"/iiif/3/webp.tif/{region}/{size}/0/default.png")).astype(float)
            want = Image.fromarray(rgb, "RGB")
            if region != "full":
                rx, ry, rw, rh = map(int, region.split(","))
                want = want.crop((rx, ry, rx + rw, ry + rh))
            sw, sh = map(int, size.split(","))
            if want.size != (sw, sh):
                want = want.resize((sw, sh), Image.Resampling.LANCZOS)
            err = float(np.abs(got - np.asarray(want).astype(float)).mean())
            worst = max(worst, err)
            # Lossy WebP at full size; the reduced size also differs by the resampling filter.
            assert err < (3.0 if size != "400,300" else 10.0), (region, size, err)
        report(f"webp-tiled TIFF (vips, Q90): worst mean abs error {worst:.2f}")
    finally:
        server.stop()
