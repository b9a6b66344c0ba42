"""Independent re-statements of the IIIF Image API arithmetic, and image comparison helpers.

These are written from the specification text (3.0 sections 4.1-4.3, 2.1 sections 4.1-4.3), not from
Tessera's code: they are the tests' own idea of what the server must answer.
"""

from __future__ import annotations

import math

import numpy as np
import pyvips
from PIL import Image, ImageChops, ImageStat


def region_box(region: str, w: int, h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the extracted region, cropped at the image edge (spec 4.1)."""
    if region == "full":
        return (0, 0, w, h)
    if region == "square":
        s = min(w, h)
        return ((w - s) // 2, (h - s) // 2, s, s)  # position is at the server's discretion
    if region.startswith("pct:"):
        px, py, pw, ph = (float(v) for v in region[4:].split(","))
        x, y = px * w / 100, py * h / 100
        rw, rh = pw * w / 100, ph * h / 100
        assert all(abs(v - round(v)) < 1e-9 for v in (x, y, rw, rh)), "tests use pct values giving whole pixels"
        x, y, rw, rh = round(x), round(y), round(rw), round(rh)
    else:
        x, y, rw, rh = (int(v) for v in region.split(","))
    rw = min(rw, w - x)
    rh = min(rh, h - y)
    return (x, y, rw, rh)


def _candidates(v: float) -> set[int]:
    """Rounding is implementation specific (spec 4.7): accept floor/ceil/round of a fractional value."""
    if abs(v - round(v)) < 1e-9:
        return {round(v)}
    return {math.floor(v), math.ceil(v)}


def size_candidates(size: str, rw: int, rh: int) -> tuple[set[int], set[int]]:
    """Allowed output widths and heights for `size` applied to a region of rw x rh (no server limits)."""
    s = size.lstrip("^")
    if s in ("max", "full"):
        return {rw}, {rh}
    if s.startswith("pct:"):
        n = float(s[4:]) / 100
        return _candidates(rw * n), _candidates(rh * n)
    if s.startswith("!"):
        bw, bh = (int(v) for v in s[1:].split(","))
        scale = min(bw / rw, bh / rh)
        if not size.startswith("^"):
            scale = min(scale, 1.0)
        ws = {v for v in _candidates(rw * scale) if v <= bw}
        hs = {v for v in _candidates(rh * scale) if v <= bh}
        return ws, hs
    ws, hs = s.split(",")
    if ws and hs:
        return {int(ws)}, {int(hs)}
    if ws:
        w = int(ws)
        return {w}, _candidates(rh * w / rw)
    h = int(hs)
    return _candidates(rw * h / rh), {h}


def rotated_bbox(w: int, h: int, degrees: float) -> tuple[float, float]:
    t = math.radians(degrees)
    c, s = abs(math.cos(t)), abs(math.sin(t))
    return (w * c + h * s, w * s + h * c)


def reference(src: Image.Image, region: str, size: str, rotation: str = "0") -> Image.Image:
    """What the spec says the image should look like, made with Pillow: region, then size, then
    mirror, then rotation (multiples of 90 only)."""
    x, y, rw, rh = region_box(region, *src.size)
    img = src.crop((x, y, x + rw, y + rh))
    ws, hs = size_candidates(size, rw, rh)
    tw, th = min(ws), min(hs)
    if (tw, th) != img.size:
        img = img.resize((tw, th), Image.Resampling.LANCZOS)
    mirror = rotation.startswith("!")
    deg = float(rotation.lstrip("!"))
    if mirror:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    turns = {0: None, 90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    assert deg in turns, "reference() handles multiples of 90 only"
    if turns[deg] is not None:
        img = img.transpose(turns[deg])  # IIIF rotation is clockwise; Pillow's ROTATE_n is counter-clockwise
    return img


def mean_abs_diff(a: Image.Image, b: Image.Image, mode: str = "RGB") -> float:
    """Mean absolute difference per channel (0..255). Resizes b to a's size when they differ by the
    one-pixel rounding slack the spec allows."""
    a = a.convert(mode)
    b = b.convert(mode)
    if a.size != b.size:
        b = b.resize(a.size, Image.Resampling.LANCZOS)
    stat = ImageStat.Stat(ImageChops.difference(a, b))
    return sum(stat.mean) / len(stat.mean)


def to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return img.convert("RGBA").convert("RGB")
    return img.convert("RGB")


def libvips_srgb(path, input_profile: str = "cmyk") -> Image.Image:
    """libvips's sRGB rendering (RGB, or RGBA when the file has alpha) of an untagged CMYK(A) file
    through `input_profile`, by default its built-in CMYK profile; relative colorimetric without
    black point compensation, its defaults."""
    v = pyvips.Image.new_from_file(str(path))
    out = v.icc_transform(
        "srgb", input_profile=input_profile, intent="relative", black_point_compensation=False, depth=8
    )
    arr = np.ndarray(buffer=out.write_to_memory(), dtype=np.uint8, shape=(out.height, out.width, out.bands))
    return Image.fromarray(arr, "RGBA" if out.bands == 4 else "RGB")
