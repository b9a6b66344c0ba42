"""TIFF colour models beyond RGB and gray, from files written here: 16-bit CIE Lab and ICC Lab, and
YCbCr stored without JPEG (subsampled in data units, or not). References are LittleCMS (Lab), libtiff
through libvips (subsampled YCbCr), and the TIFF 6.0 YCbCr equations (full range, the default
ReferenceBlackWhite) computed here. Mean errors go to the "tessera measurements" section."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import pyvips
import tifffile
from PIL import Image, ImageCms

from conftest import VALIDATOR_ID, Server, make_validator_image
from iiif_helpers import mean_abs_diff

SRGB = ImageCms.createProfile("sRGB")


def served(root, name: str) -> Image.Image:
    """`name` under `root` as Tessera serves full/max, as RGB."""
    make_validator_image().save(root / f"{VALIDATOR_ID}.png")
    s = Server(root, [], root / "tessera.log")
    try:
        r = s.client.get(f"/iiif/3/{name}/full/max/0/default.png")
    finally:
        s.stop()
    assert r.status == 200, r
    return r.image().convert("RGB")


def lab_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L* 0–100 across, a* and b* from -100 to 100 down and in blocks: a 96x64 Lab test chart."""
    yy, xx = np.mgrid[0:64, 0:96]
    lightness = xx * 100.0 / 95
    a = (yy - 32) * 100.0 / 32
    b = np.where(xx % 32 < 16, 1, -1) * (yy % 32) * 90.0 / 31
    return lightness, a, b


@pytest.mark.parametrize("model", ["cielab", "icclab"])
def test_16bit_lab_tiff(tmp_path, report, model):
    """16-bit L*a*b* TIFFs (CIELab: signed a/b; ICC Lab: a/b offset by 32768) are read like the
    8-bit ones; the reference is LittleCMS's Lab (D50) to sRGB of the same colours."""
    lightness, a, b = lab_grid()
    big = np.rint(lightness * 65535 / 100).astype(np.uint16)
    if model == "cielab":
        ab = [np.rint(c * 256).astype(np.int16).view(np.uint16) for c in (a, b)]
    else:
        ab = [np.rint(c * 256 + 32768).astype(np.uint16) for c in (a, b)]
    tifffile.imwrite(tmp_path / "lab16.tif", np.dstack([big, *ab]), photometric=model)
    got = served(tmp_path, "lab16.tif")
    # Pillow's LAB mode: L 0-255 for 0-100, a and b as signed bytes.
    pil = np.dstack(
        [np.rint(lightness * 255 / 100), *(np.clip(np.rint(c), -128, 127).astype(np.int8).view(np.uint8) for c in (a, b))]
    ).astype(np.uint8)
    t = ImageCms.buildTransform(ImageCms.createProfile("LAB"), SRGB, "LAB", "RGB")
    want = ImageCms.applyTransform(Image.fromarray(pil, "LAB"), t)
    err = mean_abs_diff(got, want)
    report(f"colour 16-bit {model} TIFF: mean abs err {err:.3f}")
    assert err < 1.5


def write_ycbcr_tiff(path, luma: np.ndarray, cb: np.ndarray, cr: np.ndarray, sub: tuple[int, int], rows_per_strip: int):
    """An uncompressed YCbCr TIFF stored in data units as TIFF 6.0 section 21 lays them out: for each
    h x v block, its luma samples row by row, then its Cb and Cr. Edge blocks repeat the last pixel."""
    h, v = sub
    height, width = luma.shape
    strips = []
    for top in range(0, height, rows_per_strip):
        buf = bytearray()
        for uy in range(top, min(top + rows_per_strip, height), v):
            for ux in range(0, width, h):
                for dy in range(v):
                    for dx in range(h):
                        buf.append(int(luma[min(uy + dy, height - 1), min(ux + dx, width - 1)]))
                buf += bytes([int(cb[uy // v, ux // h]), int(cr[uy // v, ux // h])])
        strips.append(bytes(buf))
    blob = b"".join(strips)
    blob += b"\0" * (len(blob) % 2)
    offsets = list(np.cumsum([8] + [len(s) for s in strips[:-1]]))
    entries = [
        (256, 4, [width]),
        (257, 4, [height]),
        (258, 3, [8, 8, 8]),
        (259, 3, [1]),
        (262, 3, [6]),
        (273, 4, offsets),
        (277, 3, [3]),
        (278, 4, [rows_per_strip]),
        (279, 4, [len(s) for s in strips]),
        (284, 3, [1]),
        (530, 3, [h, v]),
    ]
    ifd_at = 8 + len(blob)
    extra_at = ifd_at + 2 + 12 * len(entries) + 4
    table, extra = b"", b""
    for tag, kind, values in entries:
        packed = struct.pack(f"<{len(values)}{'H' if kind == 3 else 'I'}", *values)
        if len(packed) <= 4:
            table += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
        else:
            table += struct.pack("<HHII", tag, kind, len(values), extra_at + len(extra))
            extra += packed
    ifd = struct.pack("<H", len(entries)) + table + struct.pack("<I", 0)
    path.write_bytes(b"II*\0" + struct.pack("<I", ifd_at) + blob + ifd + extra)


def ycbcr_to_rgb(luma, cb, cr) -> np.ndarray:
    """TIFF 6.0 / JFIF YCbCr (CCIR 601 coefficients, full range) to RGB bytes."""
    y, b, r = (np.asarray(c, dtype=float) for c in (luma, cb, cr))
    rgb = np.dstack([y + 1.402 * (r - 128), y - 0.344136 * (b - 128) - 0.714136 * (r - 128), y + 1.772 * (b - 128)])
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sub", [(1, 1), (2, 1), (2, 2), (4, 2)])
def test_uncompressed_ycbcr_tiff(tmp_path, report, sub):
    h, v = sub
    rng = np.random.default_rng(7)
    width, height = 37, 23  # not multiples of the block size: edge blocks are partial
    luma = rng.integers(16, 236, (height, width))
    chroma = [rng.integers(40, 220, (-(-height // v), -(-width // h))) for _ in range(2)]
    write_ycbcr_tiff(tmp_path / "ycc.tif", luma, *chroma, sub, rows_per_strip=2 * v)
    got = served(tmp_path, "ycc.tif")
    full = [np.repeat(np.repeat(c, v, axis=0), h, axis=1)[:height, :width] for c in chroma]
    want = Image.fromarray(ycbcr_to_rgb(luma, *full), "RGB")
    err = mean_abs_diff(got, want)
    line = f"colour uncompressed YCbCr {h}x{v} TIFF: mean abs err {err:.3f} vs the TIFF equations"
    if sub != (1, 1):
        # libtiff (through libvips) unpacks subsampled YCbCr itself.
        vips = pyvips.Image.new_from_file(str(tmp_path / "ycc.tif"))
        arr = np.ndarray(buffer=vips.write_to_memory(), dtype=np.uint8, shape=(vips.height, vips.width, vips.bands))
        err_vips = mean_abs_diff(got, Image.fromarray(np.ascontiguousarray(arr[..., :3]), "RGB"))
        line += f", {err_vips:.3f} vs libtiff"
        assert err_vips < 1.0
    report(line)
    assert err < 1.0


def test_truncated_ycbcr_tiff_is_a_clean_error(tmp_path):
    """A YCbCr strip cut short is refused with a message, and the server goes on serving."""
    rng = np.random.default_rng(3)
    luma = rng.integers(16, 236, (32, 32))
    chroma = [rng.integers(40, 220, (16, 16)) for _ in range(2)]
    write_ycbcr_tiff(tmp_path / "whole.tif", luma, *chroma, (2, 2), rows_per_strip=32)
    data = bytearray((tmp_path / "whole.tif").read_bytes())
    # Declare the one strip (16 x 16 data units of 6 bytes) half as long as it must be.
    ifd_at = struct.unpack("<I", data[4:8])[0]
    (count,) = struct.unpack("<H", data[ifd_at : ifd_at + 2])
    for i in range(count):
        at = ifd_at + 2 + 12 * i
        if struct.unpack("<H", data[at : at + 2])[0] == 279:
            data[at + 8 : at + 12] = struct.pack("<I", 16 * 16 * 6 // 2)
    (tmp_path / "cut.tif").write_bytes(bytes(data))
    make_validator_image().save(tmp_path / f"{VALIDATOR_ID}.png")
    s = Server(tmp_path, [], tmp_path / "tessera.log")
    try:
        r = s.client.get("/iiif/3/cut.tif/full/max/0/default.png")
        assert r.status == 500, r
        assert b"broken image: tiff" in r.body, r.body
        assert s.client.get("/iiif/3/whole.tif/full/max/0/default.png").status == 200
    finally:
        s.stop()
