"""JPEG regions through the real server: the reader decodes only the rows and iMCU columns that
cover the region (and DCT-scales them when the size allows). Each answer must match Pillow's crop
of the whole decoded image (resized to the same size), within a small mean error."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import CORPUS, VALIDATOR_ID, Server
from iiif_helpers import libvips_srgb

# Corpus JPEGs without EXIF orientation or ICC profile (Pillow shows them as stored; libvips renders
# the CMYK one).
FILES = {
    "baseline420": "jpeg/baseline_rgb_1411x1411__skimage-retina.jpg",
    "progressive": "jpeg/progressive_rgb_2268x1512__libjxl-flower_q85_420_progr.jpg",
    "gray": "jpeg/grayscale_2268x1512__libjxl-flower_q85_gray.jpg",
    "cmyk": "jpeg/cmyk_adobe__pillow-pil_sample_cmyk.jpg",
    "arithmetic": "jpeg/arithmetic-coded__libjpeg-turbo-testimgari.jpg",
    "noninterleaved444": "jpeg/subsampling-444_non-interleaved-scans__libjxl-flower_small_q85_444_non_interleaved.jpg",
    "h2v1": "jpeg/mpo-bad-header__pillow-sugarshack_bad_mpo_header.jpg",
}

# Regions as fractions of the image (x, y, w, h) and output scales (1 = full size of the region).
REGIONS = [(0.0, 0.0, 0.5, 0.5), (0.37, 0.41, 0.3, 0.33), (0.6, 0.7, 0.4, 0.3), (0.013, 0.5, 0.98, 0.16)]
# (At 1/8 the DCT-scaled region snaps to 8-pixel blocks, a shift that textured images turn into
# mean errors above 10 against any full-size reference; the Rust unit tests compare 1/8 decodes
# byte for byte with a full decode instead.)
SCALES = [1, 2, 3, 4]


@pytest.fixture(scope="module")
def jpeg_server(images, tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip("corpus not available")
    root = tmp_path_factory.mktemp("jpeg-region-root")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    for name, rel in FILES.items():
        shutil.copy(CORPUS / rel, root / f"{name}.jpg")
    server = Server(root, [], tmp_path_factory.mktemp("log") / "tessera-jpeg-region.log")
    yield server.client, root
    server.stop()


def _png(r) -> np.ndarray:
    assert r.status == 200, r
    return np.asarray(Image.open(io.BytesIO(r.body)).convert("RGB")).astype(float)


@pytest.mark.parametrize("name", list(FILES))
def test_regions_match_pillow(jpeg_server, name, report):
    client, root = jpeg_server
    with Image.open(root / f"{name}.jpg") as im:
        # CMYK without a profile: through the press profile Tessera and libvips assume.
        full = libvips_srgb(root / f"{name}.jpg") if im.mode == "CMYK" else im.convert("RGB")
    w, h = full.size
    worst = 0.0
    for fx, fy, fw, fh in REGIONS:
        x, y = int(fx * w), int(fy * h)
        rw, rh = max(1, min(int(fw * w), w - x)), max(1, min(int(fh * h), h - y))
        for s in SCALES:
            ow, oh = max(1, rw // s), max(1, rh // s)
            got = _png(client.get(f"/iiif/3/{name}.jpg/{x},{y},{rw},{rh}/{ow},{oh}/0/default.png"))
            want = full.crop((x, y, x + rw, y + rh))
            if (ow, oh) != (rw, rh):
                want = want.resize((ow, oh), Image.Resampling.BOX)
            want = np.asarray(want).astype(float)
            assert got.shape == want.shape, (name, (x, y, rw, rh), s)
            err = float(np.abs(got - want).mean())
            worst = max(worst, err)
            # Full-size regions are the same libjpeg decode; reduced ones differ by the resampling
            # (DCT scaling, close to a box filter, then Tessera's filter, against a box filter from
            # full size). A wrong row or column offset gives errors of tens of levels.
            assert err < (1.5 if s == 1 else 10.0), (name, (x, y, rw, rh), s, err)
    report(f"jpeg region {name}: worst mean abs error vs Pillow {worst:.2f}")
