"""Odd TIFF and PNG files read or refused like libtiff and zlib do (issue 15, "Hard to break").

Read, every pixel compared with Pillow (libtiff) and, where its libtiff has the codec, libvips:
old-style LZW, old-style JPEG whose scan runs over 24 strips or whose tables are in tags, CCITT
modified Huffman (compression 2), G3/G4 files written BlackIsZero and a G3 file without an EOL
before its first row, from `tests/data/tiff/`
(provenance in its README) and written here by Pillow. Refused with a 500 that says why: a tiled
JPEG TIFF whose last tile runs past the end of the file, a PNG whose zlib stream fails its Adler-32
and one whose IDAT fails its CRC. Mean errors go to the "tessera measurements" section."""

from __future__ import annotations

import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image

from conftest import REPO_ROOT, VALIDATOR_ID, Server, make_validator_image

DATA = REPO_ROOT / "tests" / "data" / "tiff"
sys.path.insert(0, str(DATA))
import make_ccitt_rle  # noqa: E402  (the drawing the CCITT files hold)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("odd")
    make_validator_image().save(root / f"{VALIDATOR_ID}.png")
    if not DATA.is_dir():
        pytest.fail(f"{DATA} is missing", pytrace=False)
    for f in DATA.glob("*.tif*"):
        shutil.copy(f, root / f.name)
    return root


@pytest.fixture(scope="module")
def server(root):
    s = Server(root, [], root / "tessera.log")
    yield s
    s.stop()


def served(server, name: str, mode: str) -> np.ndarray:
    r = server.client.get(f"/iiif/3/{name}/full/max/0/default.png")
    assert r.status == 200, r
    return np.asarray(r.image().convert(mode)).astype(int)


def pillow(path: Path, mode: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert(mode)).astype(int)


def vips(path: Path) -> np.ndarray:
    im = pyvips.Image.new_from_file(str(path))
    return np.ndarray(buffer=im.write_to_memory(), dtype=np.uint8, shape=(im.height, im.width, im.bands)).astype(int)


@pytest.mark.parametrize(
    "name,mode,limit",
    [
        # Lossless: every pixel equal.
        ("quad-lzw-compat.tiff", "RGB", 0.0),
        ("ccitt_rle_pillow.tif", "L", 0.0),
        ("ccitt_g3_pillow.tif", "L", 0.0),
        ("ccitt_g4_pillow.tif", "L", 0.0),
        ("testfax3_bug54_1dnoEOL.tif", "L", 0.0),
        # JPEG: libjpeg interpolates chroma where libtiff's old-style JPEG path replicates it.
        ("ojpeg_chewey_subsamp21_multi_strip.tiff", "RGB", 3.0),
        ("ojpeg_zackthecat_subsamp22_single_strip.tiff", "RGB", 3.0),
        ("ojpeg_single_strip_no_rowsperstrip.tiff", "RGB", 3.0),
    ],
)
def test_odd_tiffs_match_libtiff(server, root, report, name, mode, limit):
    got = served(server, name, mode)
    want = pillow(root / name, mode)
    assert got.shape == want.shape
    err = float(np.abs(got - want).mean())
    report(f"odd tiff {name}: mean abs diff against Pillow (libtiff) {err:.3f}")
    assert err <= limit, f"{name}: mean abs diff {err:.3f}"
    if limit > 0:
        # Not a shifted colour cast: most pixels are within a few levels.
        close = float((np.abs(got - want).max(axis=2) <= 12).mean())
        assert close > 0.95, f"{name}: only {close:.3f} of pixels within 12 levels"


def test_modified_huffman_written_here_matches_libvips(tmp_path, report):
    """A fresh CCITT modified Huffman file (Pillow through libtiff), in one strip and in strips of
    16 rows; the reference is libvips's libtiff."""
    drawing = make_ccitt_rle.drawing(1001, 333)
    drawing.save(tmp_path / "rle1.tif", compression="tiff_ccitt")
    drawing.save(tmp_path / "rle16.tif", compression="tiff_ccitt", tiffinfo={278: 16})
    make_validator_image().save(tmp_path / f"{VALIDATOR_ID}.png")
    s = Server(tmp_path, [], tmp_path / "tessera.log")
    try:
        for name in ["rle1.tif", "rle16.tif"]:
            want = vips(tmp_path / name)[:, :, 0]
            got = served(s, name, "L")
            assert got.shape == want.shape
            assert (got == want).all(), f"{name}: {(got != want).sum()} pixels differ"
            # A region too.
            r = s.client.get(f"/iiif/3/{name}/100,50,400,200/max/0/default.png")
            assert r.status == 200, r
            part = np.asarray(r.image().convert("L")).astype(int)
            assert (part == want[50:250, 100:500]).all()
        report("odd tiff: CCITT modified Huffman 1001x333 equal to libvips in 1 and 21 strips")
    finally:
        s.stop()


def _tag(tiff: bytes, tag: int) -> tuple[int, int, int]:
    """(type, count, offset of the values) of `tag` in the first directory of a classic TIFF."""
    e = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", tiff[4:8])[0]
    for i in range(struct.unpack(e + "H", tiff[ifd : ifd + 2])[0]):
        at = ifd + 2 + 12 * i
        t, kind, count = struct.unpack(e + "HHI", tiff[at : at + 8])
        if t == tag:
            size = 2 if kind == 3 else 4
            where = at + 8 if size * count <= 4 else struct.unpack(e + "I", tiff[at + 8 : at + 12])[0]
            return kind, count, where
    raise KeyError(tag)


def test_a_tile_past_the_end_of_the_file_is_refused(tmp_path):
    """libtiff's tiled JPEG TIFF with its last tile's byte count running 500 bytes past the end of
    the file: whole image and that tile get a 500 naming the problem; other tiles are served."""
    tiff = bytearray((DATA / "quad-tile.jpg.tiff").read_bytes())
    e = "<" if tiff[:2] == b"II" else ">"
    _, n, offsets = _tag(tiff, 324)
    kind, _, counts = _tag(tiff, 325)
    assert kind == 4
    last = struct.unpack(e + "I", tiff[offsets + 4 * (n - 1) : offsets + 4 * n])[0]
    tiff[counts + 4 * (n - 1) : counts + 4 * n] = struct.pack(e + "I", len(tiff) - last + 500)
    (tmp_path / "cut.tif").write_bytes(bytes(tiff))
    make_validator_image().save(tmp_path / f"{VALIDATOR_ID}.png")
    s = Server(tmp_path, [], tmp_path / "tessera.log")
    try:
        info = s.client.get("/iiif/3/cut.tif/info.json").json()
        tile = info["tiles"][0]["width"]
        w, h = info["width"], info["height"]
        x, y = (w - 1) // tile * tile, (h - 1) // tile * tile
        for path in [
            "/iiif/3/cut.tif/full/max/0/default.jpg",
            f"/iiif/3/cut.tif/{x},{y},{w - x},{h - y}/max/0/default.jpg",
        ]:
            r = s.client.get(path)
            assert r.status == 500, (path, r)
            assert b"outside the file" in r.body, r.body[:300]
        r = s.client.get(f"/iiif/3/cut.tif/0,0,{tile},{tile}/max/0/default.jpg")
        assert r.status == 200, r
        assert s.alive()
    finally:
        s.stop()


def _png_chunks(png: bytes):
    at = 8
    while at + 12 <= len(png):
        (n,) = struct.unpack(">I", png[at : at + 4])
        yield at, png[at + 4 : at + 8], n
        at += 12 + n


def _fix_crc(png: bytearray, at: int, n: int) -> None:
    png[at + 8 + n : at + 12 + n] = struct.pack(">I", zlib.crc32(bytes(png[at + 4 : at + 8 + n])))


def test_pngs_failing_their_checksums_are_refused(tmp_path):
    """Pillow's PNG of a photo-like image, once with the zlib Adler-32 wrong (CRCs right), once with
    an IDAT CRC wrong: both a 500 saying the image is broken, for the full image and for a tile at
    the top (whose rows come before the checksum); the intact file is served."""
    rng = np.random.default_rng(15)
    pixels = (np.add.outer(np.arange(600), np.arange(400)) % 256).astype(np.uint8)
    noisy = np.clip(pixels.astype(int) + rng.integers(-20, 20, pixels.shape), 0, 255).astype(np.uint8)
    Image.fromarray(np.stack([noisy, pixels, noisy[::-1]], axis=2)).save(tmp_path / "good.png")
    good = (tmp_path / "good.png").read_bytes()
    idats = [(at, n) for at, kind, n in _png_chunks(good) if kind == b"IDAT"]
    adler = bytearray(good)
    at, n = idats[-1]
    adler[at + 8 + n - 1] ^= 0x55
    _fix_crc(adler, at, n)
    (tmp_path / "adler.png").write_bytes(bytes(adler))
    crc = bytearray(good)
    at, n = idats[0]
    crc[at + 8 + n] ^= 0x01
    (tmp_path / "crc.png").write_bytes(bytes(crc))
    # zlib agrees the stream is broken (Pillow does not check the Adler-32 either), and the
    # intact file's stream is fine.
    def stream(png: bytes) -> bytes:
        return b"".join(png[at + 8 : at + 8 + n] for at, kind, n in _png_chunks(png) if kind == b"IDAT")

    zlib.decompress(stream(good))
    with pytest.raises(zlib.error, match="incorrect data check"):
        zlib.decompress(stream(bytes(adler)))
    make_validator_image().save(tmp_path / f"{VALIDATOR_ID}.png")
    s = Server(tmp_path, [], tmp_path / "tessera.log")
    try:
        assert s.client.get("/iiif/3/good.png/0,0,256,256/max/0/default.png").status == 200
        for name in ["adler.png", "crc.png"]:
            for region in ["full", "0,0,256,256"]:
                r = s.client.get(f"/iiif/3/{name}/{region}/max/0/default.png")
                assert r.status == 500, (name, region, r)
                assert b"broken image" in r.body and b"png" in r.body, r.body[:300]
        assert s.alive()
    finally:
        s.stop()
