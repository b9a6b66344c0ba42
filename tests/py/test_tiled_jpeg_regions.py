"""JPEG-tiled TIFFs at full resolution: a stored tile wholly inside the region's columns, from its
first row, is decoded straight into the output rows, the others through a tile buffer and cut. Regions
that mix both (aligned, starting mid-tile, ending mid-tile, at the right and bottom edges) must show
what libvips (libtiff and libjpeg-turbo, an independent reader) decodes, for YCbCr-coded, RGB-coded
(libvips at quality 90 and above) and gray tiles. PNG output, so no JPEG re-encoding hides a shifted
or missing tile."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import VALIDATOR_ID, Server

pyvips = pytest.importorskip("pyvips", reason="pyvips writes the tiled TIFFs and reads them back")

W, H = 1300, 1000  # not a multiple of the 256 px tiles: partial tiles at the right and bottom

VARIANTS = {
    "ycbcr": dict(Q=80, gray=False),
    "rgb-coded": dict(Q=95, gray=False),
    "gray": dict(Q=85, gray=True),
}

REGIONS = [
    (0, 0, 512, 512),  # four whole tiles
    (256, 512, 768, 256),  # three whole tiles
    (100, 0, 700, 300),  # starts and ends mid-tile
    (256, 130, 512, 400),  # whole tiles' columns, first row mid-tile
    (768, 512, 532, 488),  # to the right and bottom edges (partial tiles)
    (0, 0, W, H),  # the whole image
]


@pytest.fixture(scope="module")
def tiled(images, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiled-jpeg")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")  # the readiness probe
    xyz = pyvips.Image.xyz(W, H)
    r = (xyz[0] * (255 / W)).cast("uchar")
    g = (xyz[1] * (255 / H)).cast("uchar")
    b = pyvips.Image.gaussnoise(W, H, mean=128, sigma=40, seed=1).cast("uchar")
    rgb = r.bandjoin([g, b]).copy(interpretation="srgb")
    for name, v in VARIANTS.items():
        image = rgb.colourspace("b-w") if v["gray"] else rgb
        image.tiffsave(str(root / f"{name}.tif"), tile=True, tile_width=256, tile_height=256,
                       compression="jpeg", Q=v["Q"])
    config = root.parent / "tiled-jpeg.toml"
    config.write_text("[cache]\nmemory_max_bytes = 0\nmemory_max_entry_bytes = 0\n")
    server = Server(root, ["--config", str(config)], root.parent / "tiled-jpeg.log")
    yield server.client, root
    server.stop()


def _want(path, x: int, y: int, w: int, h: int) -> np.ndarray:
    crop = pyvips.Image.new_from_file(str(path)).crop(x, y, w, h)
    return np.ndarray(buffer=crop.write_to_memory(), dtype=np.uint8, shape=(h, w, crop.bands))


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("region", REGIONS, ids=lambda r: ",".join(map(str, r)))
def test_full_resolution_region_shows_what_libvips_decodes(tiled, name, region):
    client, root = tiled
    x, y, w, h = region
    r = client.get(f"/iiif/3/{name}/{x},{y},{w},{h}/max/0/default.png")
    assert r.status == 200, r
    got = np.asarray(Image.open(io.BytesIO(r.body)))
    want = _want(root / f"{name}.tif", x, y, w, h)
    if got.ndim == 2:
        got = got[..., None]
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    # Both are libjpeg's islow IDCT; only upsampling of chroma may differ a little.
    assert diff.mean() < 0.5 and diff.max() <= 8, (name, region, diff.mean(), diff.max())
