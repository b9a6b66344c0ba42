"""Gray images with an embedded gray ICC profile (Photoshop's "Dot Gain 20%" and "Gray Gamma 2.2"
are common in journal figures) are shown through it, as browsers show them. The profiles are built
here (a gamma curve, and a dot-gain-like table); the reference is LittleCMS (Pillow ImageCms)
converting to sRGB. Mean errors go to the "tessera measurements" section."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from conftest import VALIDATOR_ID, Server, make_validator_image
from iiif_helpers import mean_abs_diff

SRGB = ImageCms.createProfile("sRGB")


def s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def gray_profile(name: str, curve: list[int] | float) -> bytes:
    """A minimal ICC v2 display profile of colour space GRAY: desc, cprt, wtpt (D50) and kTRC, the
    tone curve as a gamma (a float) or as a table of 16-bit values."""
    desc_text = name.encode() + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(desc_text)) + desc_text + bytes(8) + bytes(3 + 67)
    cprt = b"text" + bytes(4) + b"No copyright, test data\0"
    d50 = s15(0.9642) + s15(1.0) + s15(0.8249)
    wtpt = b"XYZ " + bytes(4) + d50
    if isinstance(curve, float):
        trc = b"curv" + bytes(4) + struct.pack(">IH", 1, round(curve * 256)) + bytes(2)
    else:
        trc = b"curv" + bytes(4) + struct.pack(f">I{len(curve)}H", len(curve), *curve)
    tags = [(b"desc", desc), (b"cprt", cprt), (b"wtpt", wtpt), (b"kTRC", trc)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + bytes(4)
        + bytes([2, 0x10, 0, 0])
        + b"mntrGRAYXYZ "
        + struct.pack(">6H", 2026, 11, 26, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)
        + d50
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


# Linear light (gamma 1.0: a stored 50 % is a much lighter sRGB gray) and a dot-gain-like curve
# (press: a stored tone prints darker than it reads).
PROFILES = {
    "linear": gray_profile("Gray linear", 1.0),
    "dot-gain": gray_profile(
        "Gray dot gain", [round(65535 * (1 - (1 - i / 255) ** 1.25) ** 2.4) for i in range(256)]
    ),
}


def gray_ramp() -> Image.Image:
    x = np.tile(np.linspace(0, 255, 128).astype(np.uint8), (48, 1))
    x[:16] = 128
    return Image.fromarray(x, "L")


@pytest.fixture(scope="module")
def gray_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("gray-icc")
    make_validator_image().save(root / f"{VALIDATOR_ID}.png")
    im = gray_ramp()
    alpha = Image.fromarray(np.tile(np.linspace(255, 80, 48).astype(np.uint8)[:, None], (1, 128)), "L")
    for key, icc in PROFILES.items():
        im.save(root / f"{key}.png", icc_profile=icc)
        im.save(root / f"{key}.jpg", icc_profile=icc, quality=98)
        im.save(root / f"{key}.tif", icc_profile=icc)
        Image.merge("LA", (im, alpha)).save(root / f"{key}-alpha.png", icc_profile=icc)
    s = Server(root, [], tmp_path_factory.mktemp("log") / "tessera-gray.log")
    yield s, root
    s.stop()


def reference(path, icc: bytes) -> Image.Image:
    """LittleCMS's sRGB rendering of the stored gray (alpha composited on white afterwards)."""
    im = Image.open(path)
    gray = im.getchannel("L") if im.mode == "LA" else im.convert("L")
    out = ImageCms.profileToProfile(gray, ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB, outputMode="RGB")
    if im.mode == "LA":
        white = Image.new("RGBA", out.size, (255, 255, 255, 255))
        out = Image.alpha_composite(white, Image.merge("RGBA", (*out.split(), im.getchannel("A")))).convert("RGB")
    return out


@pytest.mark.parametrize("key", sorted(PROFILES))
@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "alpha.png"])
def test_gray_profile_is_applied(gray_server, report, key, ext):
    server, root = gray_server
    name = f"{key}-alpha.png" if ext == "alpha.png" else f"{key}.{ext}"
    r = server.client.get(f"/iiif/3/{name}/full/max/0/default.png")
    assert r.status == 200, r
    got = r.image()
    if got.mode in ("LA", "RGBA"):
        white = Image.new("RGBA", got.size, (255, 255, 255, 255))
        got = Image.alpha_composite(white, got.convert("RGBA"))
    want = reference(root / name, PROFILES[key])
    err = mean_abs_diff(got.convert("RGB"), want)
    stored = Image.open(root / name).convert("RGBA")
    stored = Image.alpha_composite(Image.new("RGBA", stored.size, (255, 255, 255, 255)), stored)
    err_stored = mean_abs_diff(got.convert("RGB"), stored.convert("RGB"))
    report(f"colour gray ICC {name}: mean abs err {err:.3f} (vs the stored values {err_stored:.1f})")
    assert err < (1.5 if ext == "jpg" else 1.0)
    assert err_stored > 5, "the profile must change these pixels"
