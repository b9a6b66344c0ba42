"""Pyramidal tiled TIFFs written by tifffile (levels as a directory chain, as SubIFDs, and in BigTIFF),
served by the real binary: info.json advertises the stored tiles and levels, and tiles come from the
level that matches them, pixel for pixel as Pillow reads that level from the file."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageDraw

from conftest import VALIDATOR_ID, Server

W, H = 3000, 2000
TILE = 256
LEVELS = [(W >> i, H >> i) for i in range(4)]  # 3000x2000 … 375x250


def _base() -> Image.Image:
    """Smooth gradients with sharp marks, so a wrong level or offset shows in the pixels."""
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x * 255 // (W - 1), y * 255 // (H - 1), (x + y) * 255 // (W + H - 2)], axis=-1)
    img = Image.fromarray(rgb.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for i in range(0, W, 400):
        d.rectangle([i, 100, i + 120, 1900], fill=(255, 255, 255) if (i // 400) % 2 else (0, 0, 0))
    return img


def _levels() -> list[np.ndarray]:
    base = _base()
    return [np.asarray(base.resize(size, Image.Resampling.BOX)) for size in LEVELS]


def _write(path, levels, placement: str, bigtiff: bool) -> None:
    opts = dict(tile=(TILE, TILE), compression="zlib", photometric="rgb", metadata=None)
    with tifffile.TiffWriter(path, bigtiff=bigtiff) as tif:
        if placement == "subifds":
            tif.write(levels[0], subifds=len(levels) - 1, **opts)
            for lvl in levels[1:]:
                tif.write(lvl, subfiletype=1, **opts)
        else:
            tif.write(levels[0], **opts)
            for lvl in levels[1:]:
                tif.write(lvl, subfiletype=1, **opts)


VARIANTS = {"chain": ("chain", False), "subifds": ("subifds", False), "bigchain": ("chain", True)}


@pytest.fixture(scope="module")
def pyramid(images, tmp_path_factory):
    root = tmp_path_factory.mktemp("pyramid-root")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    levels = _levels()
    for name, (placement, big) in VARIANTS.items():
        _write(root / f"{name}.tif", levels, placement, big)
    server = Server(root, [], tmp_path_factory.mktemp("log") / "tessera-pyramid.log")
    yield server.client, root, levels
    server.stop()


def _png(r) -> np.ndarray:
    assert r.status == 200, r
    return np.asarray(Image.open(io.BytesIO(r.body)).convert("RGB")).astype(int)


def _pillow_level(path, level: int) -> np.ndarray:
    """The level as Pillow reads it from the file (the chain's directories are Pillow's frames)."""
    with Image.open(path) as im:
        im.seek(level)
        return np.asarray(im.convert("RGB")).astype(int)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_info_advertises_stored_tiles_and_levels(pyramid, name):
    client, _, _ = pyramid
    info = client.get(f"/iiif/3/{name}.tif/info.json").json()
    assert (info["width"], info["height"]) == (W, H)
    assert [(t["width"], t["height"]) for t in info["tiles"]] == [(TILE, TILE)]
    sizes = [(s["width"], s["height"]) for s in info["sizes"]]
    assert sizes == sorted(LEVELS), sizes


@pytest.mark.parametrize("name", list(VARIANTS))
def test_tiles_match_the_stored_level(pyramid, name):
    client, root, levels = pyramid
    # Tiles as a viewer asks for them: scale factor f, region TILE*f square, output TILE.
    for f, level in ((1, 0), (2, 1), (4, 2), (8, 3)):
        for tx, ty in ((0, 0), (1, 1), (2, 0)):
            x, y = tx * TILE * f, ty * TILE * f
            if x >= W or y >= H:
                continue
            rw, rh = min(TILE * f, W - x), min(TILE * f, H - y)
            ow, oh = -(-rw // f), -(-rh // f)
            got = _png(client.get(f"/iiif/3/{name}.tif/{x},{y},{rw},{rh}/{ow},{oh}/0/default.png"))
            lx, ly = x // f, y // f
            want = levels[level][ly : ly + oh, lx : lx + ow].astype(int)
            assert got.shape == want.shape, (f, tx, ty)
            assert np.array_equal(got, want), (name, f, tx, ty, np.abs(got - want).max())
    if name == "chain":
        # The same, against Pillow reading each level from the file itself.
        for level in range(4):
            lw, lh = LEVELS[level]
            got = _png(client.get(f"/iiif/3/{name}.tif/full/{lw},{lh}/0/default.png"))
            assert np.array_equal(got, _pillow_level(root / f"{name}.tif", level)), level


def test_other_sizes_resize_from_a_level(pyramid):
    client, root, _ = pyramid
    with Image.open(root / "chain.tif") as im:
        want = np.asarray(im.convert("RGB").resize((600, 400), Image.Resampling.LANCZOS)).astype(int)
    got = _png(client.get("/iiif/3/chain.tif/full/600,/0/default.png"))
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 3.0


def test_a_read_over_the_pixel_budget_is_a_400_and_tiles_still_work(pyramid, tmp_path):
    """The source-pixel limit bounds what one request decodes: a full-resolution read of the whole
    3000x2000 pyramid (6 Mpx) is refused with a clear 400, while tiles and small sizes, which come from
    small windows or levels, are served."""
    _, root, _ = pyramid
    _write(root / "single.tif", _levels()[:1], "chain", False)
    config = tmp_path / "budget.toml"
    config.write_text("[limits]\nmax_source_pixels = 1000000\n")
    server = Server(root, ["--config", str(config)], tmp_path / "budget.log")
    try:
        r = server.client.get("/iiif/3/chain.tif/full/max/0/default.jpg")
        assert r.status == 400, r
        assert b"request too large" in r.body and b"1000000" in r.body, r.body[:300]
        assert server.client.get("/iiif/3/chain.tif/0,0,512,512/512,512/0/default.jpg").status == 200
        assert server.client.get("/iiif/3/chain.tif/full/375,250/0/default.jpg").status == 200
        assert server.client.get("/iiif/3/chain.tif/info.json").status == 200
        # info.json advertises only what fits the budget: all of the pyramid, but of a single-level
        # tiled file only the scale factors whose tiles decode within 1 Mpx, and no whole-image sizes.
        info = server.client.get("/iiif/3/chain.tif/info.json").json()
        assert info["tiles"][0]["scaleFactors"] == [1, 2, 4, 8, 16]
        single = server.client.get("/iiif/3/single.tif/info.json").json()
        assert single["tiles"][0]["scaleFactors"] == [1, 2], single
        assert "sizes" not in single, single
        assert server.client.get("/iiif/3/single.tif/512,512,512,512/256,256/0/default.jpg").status == 200
        assert server.client.get("/iiif/3/single.tif/0,0,1024,1024/256,256/0/default.jpg").status == 400
    finally:
        server.stop()
