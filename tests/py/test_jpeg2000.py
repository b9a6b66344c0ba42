"""JPEG 2000 files written by Pillow (OpenJPEG), served by the real binary: info.json advertises the
stored tiles and resolution levels, tiles at every scale factor and full-resolution regions match
Pillow's own decode of the same file (with `reduce` for the levels), a 16-bit gray image is scaled
to 8 bits rather than shown dark, and a tile of a tiled file reads a small part of it."""

from __future__ import annotations

import io
import shutil
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import CORPUS, VALIDATOR_ID, Server

W, H = 3000, 2000
TILE = 512
DEFAULT_TILE = 256
RESOLUTIONS = 5
# JPEG 2000 level sizes: ceil(size / 2^r).
LEVELS = [(-(-W // (1 << r)), -(-H // (1 << r))) for r in range(RESOLUTIONS)]


def _base() -> Image.Image:
    """Gradients with sharp bars and some deterministic noise (so tiles weigh something)."""
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x * 255 // (W - 1), y * 255 // (H - 1), (x + y) * 255 // (W + H - 2)], axis=-1)
    noise = np.random.default_rng(5).integers(-12, 13, size=(H, W, 1))
    img = Image.fromarray(np.clip(rgb + noise, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for i in range(0, W, 400):
        d.rectangle([i, 100, i + 120, 1900], fill=(255, 255, 255) if (i // 400) % 2 else (0, 0, 0))
    return img


@pytest.fixture(scope="module")
def jp2(images, tmp_path_factory):
    root = tmp_path_factory.mktemp("jp2-root")
    shutil.copy(images / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    base = _base()
    opts = dict(num_resolutions=RESOLUTIONS, irreversible=False)
    base.save(root / "tiled.jp2", tile_size=(TILE, TILE), **opts)
    base.save(root / "untiled.jp2", **opts)
    # A raw codestream of the same pixels, tiled.
    base.save(root / "tiled.j2k", tile_size=(TILE, TILE), **opts)
    # 16-bit gray: a ramp over the whole 16-bit range.
    gy, gx = np.mgrid[0:400, 0:600]
    gray = ((gx * 65535) // 599).astype(np.uint16)
    gray[gy > 200] = 65535 - gray[gy > 200]
    Image.fromarray(gray).save(root / "gray16.jp2", num_resolutions=3, irreversible=False)
    # The corpus's JPEG 2000 files, when the corpus is beside the repository.
    corpus = sorted((CORPUS / "jp2").glob("*")) + sorted((CORPUS / "iiif-validator").glob("*.jp2"))
    for path in corpus:
        shutil.copy(path, root / f"corpus-{path.name}")
    # A default tile size other than the stored one, so info.json shows which one it advertises.
    config = tmp_path_factory.mktemp("jp2-config") / "tessera.toml"
    config.write_text(f"[output]\ntile_size = {DEFAULT_TILE}\n")
    server = Server(root, ["--config", str(config)], tmp_path_factory.mktemp("log") / "tessera-jp2.log")
    yield server, root
    server.stop()


def _png(r) -> np.ndarray:
    assert r.status == 200, (r.status, r.body[:200])
    return np.asarray(Image.open(io.BytesIO(r.body)).convert("RGB")).astype(int)


def _pillow(path, reduce: int = 0) -> np.ndarray:
    """The file as Pillow decodes it, at resolution level `reduce`."""
    with Image.open(path) as im:
        im.reduce = reduce
        im.load()
        return np.asarray(im.convert("RGB")).astype(int)


def _bytes_read(client) -> int:
    r = client.get("/metrics")
    assert r.status == 200
    prefix = 'tessera_source_bytes_read_total{kind="folder"} '
    for line in r.body.decode().splitlines():
        if line.startswith(prefix):
            return int(float(line[len(prefix) :]))
    return 0


@pytest.mark.parametrize("name", ["tiled.jp2", "untiled.jp2", "tiled.j2k"])
def test_info_advertises_stored_tiles_and_levels(jp2, name):
    server, _ = jp2
    info = server.client.get(f"/iiif/3/{name}/info.json").json()
    assert (info["width"], info["height"]) == (W, H)
    sizes = [(s["width"], s["height"]) for s in info["sizes"]]
    assert sizes == sorted(LEVELS), sizes
    tiles = info["tiles"]
    assert len(tiles) == 1
    stored = name.startswith("tiled")
    want = TILE if stored else DEFAULT_TILE
    assert (tiles[0]["width"], tiles[0].get("height", tiles[0]["width"])) == (want, want)
    assert tiles[0]["scaleFactors"] == ([1, 2, 4, 8] if stored else [1, 2, 4, 8, 16])


@pytest.mark.parametrize("name", ["tiled.jp2", "untiled.jp2", "tiled.j2k"])
def test_tiles_at_every_level_match_pillow(jp2, name, report):
    server, root = jp2
    worst = 0.0
    for f in (1, 2, 4, 8, 16):
        r = f.bit_length() - 1
        want_level = _pillow(root / name, r)
        assert want_level.shape[:2] == (LEVELS[r][1], LEVELS[r][0])
        for tx, ty in ((0, 0), (1, 1), (2, 0), (5, 3)):
            x, y = tx * TILE * f, ty * TILE * f
            if x >= W or y >= H:
                continue
            rw, rh = min(TILE * f, W - x), min(TILE * f, H - y)
            ow, oh = -(-rw // f), -(-rh // f)
            got = _png(server.client.get(f"/iiif/3/{name}/{x},{y},{rw},{rh}/{ow},{oh}/0/default.png"))
            lx, ly = x // f, y // f
            want = want_level[ly : ly + oh, lx : lx + ow]
            assert got.shape == want.shape, (f, tx, ty, got.shape, want.shape)
            mad = float(np.abs(got - want).mean())
            worst = max(worst, mad)
            assert mad < 0.5, (name, f, tx, ty, mad)
    report(f"jpeg2000 {name}: tiles at scale factors 1-16 vs Pillow reduce: worst mean abs diff {worst:.4f}")


@pytest.mark.parametrize("name", ["tiled.jp2", "untiled.jp2"])
def test_full_resolution_region_matches_pillow(jp2, name):
    server, root = jp2
    full = _pillow(root / name)
    x, y, w, h = 1234, 567, 800, 600
    got = _png(server.client.get(f"/iiif/3/{name}/{x},{y},{w},{h}/max/0/default.png"))
    assert np.array_equal(got, full[y : y + h, x : x + w])
    # Whole image at a size between levels: resized from the level above, close to Pillow's resize.
    got = _png(server.client.get(f"/iiif/3/{name}/full/600,/0/default.png"))
    want = np.asarray(Image.fromarray(full.astype(np.uint8)).resize((600, 400), Image.Resampling.LANCZOS))
    assert got.shape == want.shape
    assert np.abs(got - want.astype(int)).mean() < 3.0


def test_sixteen_bit_gray_is_not_dark(jp2, report):
    server, root = jp2
    r = server.client.get("/iiif/3/gray16.jp2/full/max/0/default.png")
    assert r.status == 200
    got = np.asarray(Image.open(io.BytesIO(r.body)).convert("L")).astype(float)
    with Image.open(root / "gray16.jp2") as im:
        assert im.mode == "I;16"
        want = np.asarray(im).astype(float) / 257.0
    assert got.shape == want.shape
    mad = float(np.abs(got - want).mean())
    report(f"jpeg2000 16-bit gray: mean {got.mean():.1f} (Pillow/257: {want.mean():.1f}), mean abs diff {mad:.3f}")
    assert got.mean() > 100
    assert mad < 1.0


def test_a_tile_of_a_tiled_file_reads_a_small_part_of_it(jp2, report):
    server, root = jp2
    client = server.client
    timings = {}
    read = {}
    for name in ("tiled.jp2", "untiled.jp2"):
        size = (root / name).stat().st_size
        client.get(f"/iiif/3/{name}/info.json")
        # Distinct regions each time, so no render cache answers.
        spent, before = [], _bytes_read(client)
        for i, (tx, ty) in enumerate(((3, 2), (4, 1), (1, 3))):
            t0 = time.monotonic()
            r = client.get(f"/iiif/3/{name}/{tx * TILE},{ty * TILE},{TILE},{TILE}/{TILE},/0/default.jpg")
            spent.append(time.monotonic() - t0)
            assert r.status == 200
        read[name] = (_bytes_read(client) - before) / 3 / size
        timings[name] = sorted(spent)[1]
    report(
        "jpeg2000 512px full-resolution tile (median of 3): tiled "
        f"{timings['tiled.jp2'] * 1000:.0f} ms reading {read['tiled.jp2']:.1%} of the file, untiled "
        f"{timings['untiled.jp2'] * 1000:.0f} ms reading {read['untiled.jp2']:.1%}"
    )
    assert read["tiled.jp2"] < 0.2, read
    # The untiled file is one tile-part: all of its codestream is read for any region.
    assert read["untiled.jp2"] > 0.5, read


def test_corpus_files_match_pillow(jp2, report):
    """Every corpus JPEG 2000 file that Pillow decodes to 8-bit samples looks the same through Tessera
    (sYCC with alpha, ICC, J2K, JPX, the IIIF validator image)."""
    server, root = jp2
    files = sorted(root.glob("corpus-*"))
    if not files:
        pytest.skip("no corpus beside the repository")
    compared = []
    for path in files:
        try:
            with Image.open(path) as im:
                im.load()
                if im.mode not in ("L", "LA", "RGB", "RGBA"):
                    continue
                mode = "RGBA" if "A" in im.mode else "RGB"
                want = np.asarray(im.convert(mode)).astype(int)
        except OSError:
            continue  # Pillow cannot read it (the manifest says which)
        r = server.client.get(f"/iiif/3/{path.name}/full/max/0/default.png")
        assert r.status == 200, (path.name, r.status, r.body[:200])
        got = np.asarray(Image.open(io.BytesIO(r.body)).convert(mode)).astype(int)
        assert got.shape == want.shape, path.name
        mad = float(np.abs(got - want).mean())
        compared.append(f"{path.name[7:]} {mad:.3f}")
        assert mad < 1.0, (path.name, mad)
    assert len(compared) >= 5, compared
    report("jpeg2000 corpus vs Pillow, mean abs diff: " + ", ".join(compared))
