"""Plain striped TIFFs, the journal's usual original, through the real server: LZW with the horizontal
predictor (Tessera's own LZW decoder) and Deflate, RGB and gray. Regions at full resolution equal
Pillow's (libtiff's) crop exactly; small views of the whole image, which Tessera box-shrinks while the
strips are decoded, stay within a small mean error of Pillow's Lanczos resize of the full image."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import VALIDATOR_ID, Server

W, H = 2400, 1700


def _picture(gray: bool) -> np.ndarray:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([(x * 255) // W, (y * 255) // H, ((x ^ y) & 255)], axis=-1).astype(np.int32)
    rgb += rng.integers(-6, 7, size=rgb.shape)  # grain, so LZW meets long and short strings
    rgb[400:800, 300:900] = (250, 20, 20)
    arr = np.clip(rgb, 0, 255).astype(np.uint8)
    return arr[..., 1] if gray else arr


# Written by Pillow through libtiff (tifffile needs imagecodecs for LZW): 317 Predictor, 278 RowsPerStrip.
VARIANTS = {
    "lzw-rgb": dict(compression="tiff_lzw", predictor=2, gray=False),
    "lzw-gray": dict(compression="tiff_lzw", predictor=2, gray=True),
    "lzw-plain": dict(compression="tiff_lzw", predictor=1, gray=False),
    "deflate-rgb": dict(compression="tiff_adobe_deflate", predictor=2, gray=False),
}


@pytest.fixture(scope="module")
def striped(images, tmp_path_factory):
    root = tmp_path_factory.mktemp("striped")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")  # the readiness probe
    for name, v in VARIANTS.items():
        path = root / f"{name}.tif"
        Image.fromarray(_picture(v["gray"])).save(
            path, compression=v["compression"], tiffinfo={317: v["predictor"], 278: 64}
        )
        page = tifffile.TiffFile(path).pages[0]
        assert (page.compression, page.predictor, page.rowsperstrip) == (
            5 if "lzw" in name else 8, v["predictor"], 64
        ), name
    server = Server(root, [], tmp_path_factory.mktemp("log") / "striped.log")
    yield server.client, root
    server.stop()


def _get(client, path: str) -> np.ndarray:
    r = client.get(path)
    assert r.status == 200, r
    return np.asarray(Image.open(io.BytesIO(r.body)).convert("RGB")).astype(int)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_regions_equal_libtiff(striped, name):
    client, root = striped
    ref = Image.open(root / f"{name}.tif").convert("RGB")
    for x, y, w, h in ((0, 0, 700, 300), (1111, 913, 640, 500), (W - 333, H - 97, 333, 97)):
        got = _get(client, f"/iiif/3/{name}.tif/{x},{y},{w},{h}/max/0/default.png")
        want = np.asarray(ref.crop((x, y, x + w, y + h))).astype(int)
        assert np.array_equal(got, want), (name, x, y, np.abs(got - want).max())


@pytest.mark.parametrize("name", list(VARIANTS))
def test_small_views_of_the_whole_image_match_a_full_resize(striped, name, report):
    client, root = striped
    ref = Image.open(root / f"{name}.tif").convert("RGB")
    for size in ("300,", ",170", "1000,"):
        got = _get(client, f"/iiif/3/{name}.tif/full/{size}/0/default.png")
        want = np.asarray(ref.resize((got.shape[1], got.shape[0]), Image.Resampling.LANCZOS)).astype(int)
        err = np.abs(got - want).mean()
        report(f"striped {name} full/{size}: mean abs error vs Pillow Lanczos {err:.2f}")
        assert err < 3.0, (name, size, err)
