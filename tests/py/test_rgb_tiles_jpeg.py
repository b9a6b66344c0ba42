"""JPEG requests at full resolution on a TIFF of RGB-coded JPEG tiles (libvips writes them so at
quality 90 and above) are decoded one component at a time and re-encoded from the planes, with
Tessera's own colour conversion and chroma halving. The answer must show the region libvips
(libtiff and libjpeg-turbo, an independent reader) decodes, as closely as Pillow's own JPEG of
that region at the same quality does, with the chroma halved below quality 90 and kept whole from
90 on: aligned regions, regions starting and ending mid-tile, odd sizes, the right and bottom
edges (partial tiles), a single pixel."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from conftest import VALIDATOR_ID, Server

pyvips = pytest.importorskip("pyvips", reason="pyvips writes the tiled TIFF and reads it back")

W, H = 1300, 1000  # not a multiple of the 256 px tiles: partial tiles at the right and bottom

REGIONS = [
    (0, 0, 512, 512),  # four whole tiles
    (256, 512, 768, 256),  # three whole tiles
    (100, 37, 700, 301),  # starts and ends mid-tile, odd height
    (3, 250, 13, 17),  # a few pixels across four tiles
    (768, 512, 532, 488),  # to the right and bottom edges (partial tiles)
    (1280, 768, 20, 232),  # the bottom-right tile, whole but cut by the edge
    (1299, 999, 1, 1),  # the last pixel
    (0, 0, W, H),  # the whole image
]

QUALITIES = [80, 95]


@pytest.fixture(scope="module")
def servers(images, tmp_path_factory):
    root = tmp_path_factory.mktemp("rgb-tiles")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")  # the readiness probe
    xyz = pyvips.Image.xyz(W, H)
    r = (xyz[0] * (255 / W)).cast("uchar")
    # Edges off the 8-pixel grid (a checker of 11 x 7 px cells): a plane or a window shifted by
    # one pixel shows plainly, also through quality 80; a little noise besides, seeded so every run
    # tests the same pixels.
    checker = ((xyz[0] / 11).floor() + (xyz[1] / 7).floor()).remainder(2) * 80
    g = (xyz[1] * (175 / H) + checker).cast("uchar")
    b = (pyvips.Image.gaussnoise(W, H, mean=0, sigma=6, seed=1) + (xyz[0] + xyz[1]) * (255 / (W + H))).cast("uchar")
    rgb = r.bandjoin([g, b]).copy(interpretation="srgb")
    rgb.tiffsave(str(root / "rgb.tif"), tile=True, tile_width=256, tile_height=256, compression="jpeg", Q=95)
    running = {}
    for quality in QUALITIES:
        config = root.parent / f"rgb-tiles-{quality}.toml"
        config.write_text(f"[output]\njpeg_quality = {quality}\n[cache]\nmemory_max_bytes = 0\nmemory_max_entry_bytes = 0\n")
        running[quality] = Server(root, ["--config", str(config)], root.parent / f"rgb-tiles-{quality}.log")
    yield running, root
    for server in running.values():
        server.stop()


def _region(path, x: int, y: int, w: int, h: int) -> np.ndarray:
    crop = pyvips.Image.new_from_file(str(path)).crop(x, y, w, h)
    return np.ndarray(buffer=crop.write_to_memory(), dtype=np.uint8, shape=(h, w, crop.bands))


def _error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("quality", QUALITIES)
@pytest.mark.parametrize("region", REGIONS, ids=lambda r: ",".join(map(str, r)))
def test_jpeg_of_a_region_shows_what_libvips_decodes(servers, quality, region):
    running, root = servers
    x, y, w, h = region
    r = running[quality].client.get(f"/iiif/3/rgb/{x},{y},{w},{h}/max/0/default.jpg")
    assert r.status == 200, r
    assert r.headers.get("content-type") == "image/jpeg", r.headers
    image = Image.open(io.BytesIO(r.body))
    # Pillow's numbering: 2 is 4:2:0, 0 is 4:4:4.
    assert JpegImagePlugin.get_sampling(image) == (2 if quality < 90 else 0), quality
    got = np.asarray(image.convert("RGB"))
    want = _region(root / "rgb.tif", x, y, w, h)
    assert got.shape == want.shape, (got.shape, want.shape)
    # What a JPEG at this quality of exactly these pixels costs, written by Pillow's libjpeg.
    sampling = "4:2:0" if quality < 90 else "4:4:4"
    reference = io.BytesIO()
    Image.fromarray(want).save(reference, "JPEG", quality=quality, subsampling=sampling)
    budget = _error(np.asarray(Image.open(reference).convert("RGB")), want)
    # Two encoders round colour conversion and the DC differently by a level now and then: over a
    # large region that averages out, over a single pixel it is a third of the mean error. So the
    # allowance for rounding shrinks with the region (1/sqrt(pixels)), as independent errors do.
    rounding = 1.0 / np.sqrt(w * h)
    error = _error(got, want)
    assert error <= budget * 1.05 + 0.15 + rounding, (region, quality, error, budget)
    # No channel is off on its own (a swapped or shifted plane moves one colour, not the mean).
    for channel in range(3):
        off = _error(got[..., channel], want[..., channel])
        assert off <= 3 * budget + 1.0 + rounding, (region, quality, channel, off)
