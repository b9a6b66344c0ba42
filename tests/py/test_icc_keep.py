"""`[colour] icc = "keep"` embeds the source's profile (issue 11): renditions of a Display-P3 source
carry that very profile, byte for byte as Pillow reads it (`im.info["icc_profile"]`), in JPEG, PNG,
WebP and TIFF output, for the full image, a region and a stored JPEG tile sent as stored (the
profile put into its bytes); their pixels are the stored values. With the default (`srgb`) they
carry none and the pixels are converted to sRGB as LittleCMS (Pillow ImageCms) converts them.

The Display-P3 profile is built here from the colour space's primaries (D65 white, sRGB tone
curve; matrix adapted to D50 with Bradford), and every source is generated into a tmp dir."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from conftest import VALIDATOR_ID, Server, make_validator_image
from iiif_helpers import mean_abs_diff

SRGB = ImageCms.createProfile("sRGB")
W, H = 640, 480
# Patches (x, y, colour) painted on the source: saturated colours show a P3 to sRGB conversion
# most, a gray shows it least.
PATCHES = [
    (40, 40, (220, 40, 40)),
    (200, 40, (40, 200, 60)),
    (360, 40, (30, 60, 210)),
    (40, 240, (128, 128, 128)),
    (200, 240, (240, 200, 30)),
]
PATCH = 120


def s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def display_p3_profile() -> bytes:
    """An ICC v2 RGB display profile of Display P3: desc, cprt, wtpt (D50), the D50-adapted
    primaries and the sRGB tone curve as a 1024-entry table."""
    xy = {"r": (0.680, 0.320), "g": (0.265, 0.690), "b": (0.150, 0.060)}
    d65 = np.array([0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])
    d50 = np.array([0.9642, 1.0, 0.8249])
    cols = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in xy.values()]).T
    rgb_to_xyz = cols * np.linalg.solve(cols, d65)
    bradford = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
    adapt = np.linalg.inv(bradford) @ np.diag((bradford @ d50) / (bradford @ d65)) @ bradford
    m = adapt @ rgb_to_xyz

    def xyz(v) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(s15(c) for c in v)

    def srgb_eotf(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    curve = [round(65535 * srgb_eotf(i / 1023)) for i in range(1024)]
    trc = b"curv" + bytes(4) + struct.pack(f">I{len(curve)}H", len(curve), *curve)
    text = b"Display P3 (Tessera test)\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8) + bytes(3 + 67)
    cprt = b"text" + bytes(4) + b"No copyright, test data\0"
    tags = [
        (b"desc", desc),
        (b"cprt", cprt),
        (b"wtpt", xyz(d50)),
        (b"rXYZ", xyz(m[:, 0])),
        (b"gXYZ", xyz(m[:, 1])),
        (b"bXYZ", xyz(m[:, 2])),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body))
        + bytes(4)
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 12, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)
        + b"".join(s15(c) for c in d50)
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


P3 = display_p3_profile()


def source_image() -> Image.Image:
    """Colour patches on a smooth background (so that JPEG sources stay close to their pixels)."""
    x = np.linspace(60, 200, W, dtype=np.float64)
    y = np.linspace(80, 160, H, dtype=np.float64)
    a = np.zeros((H, W, 3), np.uint8)
    a[..., 0] = x[None, :]
    a[..., 1] = y[:, None]
    a[..., 2] = 140
    for px, py, colour in PATCHES:
        a[py : py + PATCH, px : px + PATCH] = colour
    return Image.fromarray(a, "RGB")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("icc-keep")
    make_validator_image().save(root / f"{VALIDATOR_ID}.png")
    im = source_image()
    im.save(root / "p3-png.png", icc_profile=P3)
    im.save(root / "p3-jpeg.jpg", icc_profile=P3, quality=95)
    import pyvips

    v = pyvips.Image.new_from_memory(np.asarray(im).tobytes(), W, H, 3, "uchar").copy(interpretation="srgb")
    v.set_type(pyvips.GValue.blob_type, "icc-profile-data", P3)
    # Below Q 90 libvips codes the tiles as YCbCr (subsampled), which Tessera sends as stored.
    v.tiffsave(str(root / "p3-tiled.tif"), tile=True, tile_width=256, tile_height=256, compression="jpeg", Q=85)
    for name in ("p3-png.png", "p3-jpeg.jpg", "p3-tiled.tif"):
        with Image.open(root / name) as s:
            assert s.info.get("icc_profile") == P3, f"{name} was not written with the profile"
    return root, im


@pytest.fixture(scope="module")
def keep(sources, tmp_path_factory):
    root, _ = sources
    work = tmp_path_factory.mktemp("keep")
    config = work / "tessera.toml"
    config.write_text('[colour]\nicc = "keep"\n')
    s = Server(root, ["--config", str(config)], work / "tessera-keep.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def srgb(sources, tmp_path_factory):
    root, _ = sources
    s = Server(root, [], tmp_path_factory.mktemp("srgb") / "tessera-srgb.log")
    yield s
    s.stop()


def fetch(server: Server, path: str) -> tuple[bytes, Image.Image]:
    r = server.client.get(path)
    assert r.status == 200, (path, r.status, r.body[:200])
    im = Image.open(io.BytesIO(r.body))
    im.load()
    return r.body, im


def to_srgb(im: Image.Image) -> Image.Image:
    """LittleCMS's sRGB rendering of `im`'s values taken as Display P3."""
    return ImageCms.profileToProfile(im.convert("RGB"), ImageCms.ImageCmsProfile(io.BytesIO(P3)), SRGB)


# (identifier, region, size, stored region in the source, pixel tolerance of the source format)
FULL = [("p3-png.png", "full", "max", (0, 0, W, H), 0.6), ("p3-jpeg.jpg", "full", "max", (0, 0, W, H), 1.5)]
REGION = [("p3-png.png", "160,0,320,240", "160,", (160, 0, 480, 240), 0.6)]
TILE = [("p3-tiled.tif", "256,0,256,256", "256,256", (256, 0, 512, 256), 1.5)]


def test_the_generated_profile_is_display_p3():
    """LittleCMS takes the built profile, and its red is outside sRGB as Display P3's is."""
    p = ImageCms.ImageCmsProfile(io.BytesIO(P3))
    assert ImageCms.getProfileDescription(p).strip() == "Display P3 (Tessera test)"
    red = to_srgb(Image.new("RGB", (1, 1), (255, 0, 0))).getpixel((0, 0))
    assert red[0] == 255 and red[1] < 30 and red[2] < 30, red
    # P3's (220, 40, 40) is a stronger red than sRGB's: the sRGB value moves away from gray.
    r, g, b = to_srgb(Image.new("RGB", (1, 1), (220, 40, 40))).getpixel((0, 0))
    assert r > 230 and g < 40 and b < 40, (r, g, b)


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tif"])
@pytest.mark.parametrize("case", FULL + REGION, ids=lambda c: f"{c[0]}-{c[1]}")
def test_keep_embeds_the_profile_byte_for_byte(keep, sources, report, fmt, case):
    ident, region, size, box, tol = case
    _, stored = sources
    _, im = fetch(keep, f"/iiif/3/{ident}/{region}/{size}/0/default.{fmt}")
    assert im.info.get("icc_profile") == P3, f"{fmt}: profile missing or changed"
    want = stored.crop(box)
    err = mean_abs_diff(im.convert("RGB"), want)
    report(f"icc keep {ident} {region} {fmt}: mean abs err vs stored {err:.3f}")
    # Lossy output adds its own error; PNG and TIFF carry the (resized) stored values.
    limit = tol + (0.3 if fmt in ("png", "tif") else 2.0)
    assert err < limit, f"{fmt}: {err:.3f} from the stored values"


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tif"])
@pytest.mark.parametrize("case", FULL + REGION, ids=lambda c: f"{c[0]}-{c[1]}")
def test_srgb_converts_and_sends_untagged(srgb, sources, report, fmt, case):
    ident, region, size, box, tol = case
    _, stored = sources
    _, im = fetch(srgb, f"/iiif/3/{ident}/{region}/{size}/0/default.{fmt}")
    assert "icc_profile" not in im.info, f"{fmt}: sRGB output must go untagged"
    got = im.convert("RGB")
    want = to_srgb(stored.crop(box)).resize(got.size, Image.Resampling.LANCZOS)
    err = mean_abs_diff(got, want)
    err_stored = mean_abs_diff(got, stored.crop(box))
    report(f"icc srgb {ident} {region} {fmt}: mean abs err vs LittleCMS {err:.3f}, vs stored {err_stored:.3f}")
    assert err < tol + (0.5 if fmt in ("png", "tif") else 2.0)
    assert err_stored > 2 * err, "the pixels were not converted"


def test_srgb_known_colours_match_littlecms(srgb, sources):
    """The centre of each patch, full size PNG from the PNG source: each channel within 2 of
    LittleCMS's conversion of the patch colour."""
    _, im = fetch(srgb, "/iiif/3/p3-png.png/full/max/0/default.png")
    im = im.convert("RGB")
    for px, py, colour in PATCHES:
        want = to_srgb(Image.new("RGB", (1, 1), colour)).getpixel((0, 0))
        got = im.getpixel((px + PATCH // 2, py + PATCH // 2))
        assert all(abs(g - w) <= 2 for g, w in zip(got, want)), (colour, got, want)
        if colour[0] != colour[1]:
            assert got != colour, f"{colour} was not converted"


@pytest.mark.parametrize("case", TILE, ids=lambda c: c[0])
def test_a_stored_tile_carries_the_profile_under_keep(keep, srgb, sources, report, case):
    ident, region, size, box, tol = case
    _, stored = sources
    path = f"/iiif/3/{ident}/{region}/{size}/0/default.jpg"
    body, im = fetch(keep, path)
    assert im.info.get("icc_profile") == P3
    # Sent as stored, the profile put in right after SOI: no JFIF header of a re-encode.
    assert body[2:4] == b"\xff\xe2" and b"JFIF" not in body[:64], body[:24]
    err = mean_abs_diff(im.convert("RGB"), stored.crop(box))
    report(f"icc keep stored tile {ident}: mean abs err vs stored {err:.3f}")
    assert err < tol + 1.0
    # The same tile under `srgb` must be converted: decoded and re-encoded, untagged.
    body, im = fetch(srgb, path)
    assert "icc_profile" not in im.info
    assert b"JFIF" in body[:64]
    err = mean_abs_diff(im.convert("RGB"), to_srgb(stored.crop(box)))
    assert err < tol + 2.0


def test_gray_quality_and_gif_go_untagged(keep):
    """A gray rendition of RGB pixels is not described by their RGB profile; GIF has no slot."""
    for path in (
        "/iiif/3/p3-png.png/full/max/0/gray.png",
        "/iiif/3/p3-png.png/full/max/0/bitonal.png",
        "/iiif/3/p3-jpeg.jpg/full/200,/0/gray.jpg",
        "/iiif/3/p3-png.png/full/max/0/default.gif",
    ):
        _, im = fetch(keep, path)
        assert "icc_profile" not in im.info, path


def test_keep_converts_where_the_output_cannot_carry_the_profile(keep, srgb):
    """GIF, AVIF and gray renditions cannot carry the profile: under keep they are converted to sRGB
    instead, so they show the colours the srgb setting gives, not the stored values."""
    for path in (
        "/iiif/3/p3-png.png/full/max/0/default.gif",
        "/iiif/3/p3-png.png/full/max/0/default.avif",
        "/iiif/3/p3-png.png/full/max/0/gray.png",
    ):
        kept = keep.client.get(path)
        converted = srgb.client.get(path)
        assert kept.status == converted.status == 200, path
        a = np.asarray(Image.open(io.BytesIO(kept.body)).convert("RGB"), dtype=np.float64)
        b = np.asarray(Image.open(io.BytesIO(converted.body)).convert("RGB"), dtype=np.float64)
        assert np.abs(a - b).mean() < 1.0, path
    # Where the profile is kept, the stored values differ visibly from the converted ones.
    kept = np.asarray(Image.open(io.BytesIO(keep.client.get("/iiif/3/p3-png.png/full/max/0/default.png").body)).convert("RGB"), dtype=np.float64)
    conv = np.asarray(Image.open(io.BytesIO(srgb.client.get("/iiif/3/p3-png.png/full/max/0/default.png").body)).convert("RGB"), dtype=np.float64)
    assert np.abs(kept - conv).mean() > 3.0
