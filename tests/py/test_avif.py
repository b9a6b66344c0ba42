"""AVIF output and preferredFormats.

Tessera writes AVIF (ravif / rav1e) but has no AVIF reader, so every check decodes the response with
libvips (the pyvips wheel's libheif, with its own AV1 decoder): an independent reader. Expected pixels come
from Pillow applied to the same source (conftest.make_pixels_image, make_rgba_image).
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
import pyvips
from PIL import Image

from conftest import HOST, PIX_H, PIX_W, VALIDATOR_ID, Server, free_port, tessera_bin
from iiif_helpers import reference

IMG3 = "/iiif/3/pixels"
IMG2 = "/iiif/2/pixels"


def vips_decode(body: bytes) -> np.ndarray:
    """The AVIF `body` decoded by libvips as an 8-bit (height, width, bands) array."""
    v = pyvips.Image.new_from_buffer(body, "")
    assert v.get("vips-loader").startswith("heifload"), v.get("vips-loader")
    if v.format != "uchar":
        v = v.colourspace("srgb")
    return np.ndarray(buffer=v.write_to_memory(), dtype=np.uint8, shape=(v.height, v.width, v.bands))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255**2 / mse) if mse else 99.0


def get_avif(client, path: str):
    r = client.get(path)
    assert r.status == 200, r
    assert r.header("Content-Type") == "image/avif", r
    assert r.body[4:12] == b"ftypavif", r.body[:16]
    return r


@pytest.mark.parametrize("base", [IMG3, IMG2])
def test_full_image_decodes_with_the_right_size_and_colours(client, pixels_image, report, base):
    size = "max" if base == IMG3 else "full"
    r = get_avif(client, f"{base}/full/{size}/0/default.avif")
    got = vips_decode(r.body)
    assert got.shape == (PIX_H, PIX_W, 3), got.shape
    want = np.asarray(pixels_image.convert("RGB"))
    # Mean colour per channel, and each quadrant's mean colour (the source's four colours).
    assert np.abs(got.mean((0, 1)) - want.mean((0, 1))).max() < 2.0, (got.mean((0, 1)), want.mean((0, 1)))
    for qy in (0, 1):
        for qx in (0, 1):
            ys = slice(qy * PIX_H // 2 + 20, (qy + 1) * PIX_H // 2 - 20)
            xs = slice(qx * PIX_W // 2 + 20, (qx + 1) * PIX_W // 2 - 20)
            g, w = got[ys, xs].mean((0, 1)), want[ys, xs].mean((0, 1))
            assert np.abs(g - w).max() < 4.0, (qx, qy, g, w)
    p = psnr(got, want)
    report(f"avif full {base}: {len(r.body)} B, PSNR {p:.1f} dB against the source")
    assert p > 33, p


def test_a_tile_decodes_like_pillows_crop_and_scale(client, pixels_image, report):
    region, size = "512,0,488,512", "244,"
    r = get_avif(client, f"{IMG3}/{region}/{size}/0/default.avif")
    got = vips_decode(r.body)
    want = np.asarray(reference(pixels_image, region, size).convert("RGB"))
    assert got.shape == want.shape == (256, 244, 3), (got.shape, want.shape)
    assert np.abs(got.mean((0, 1)) - want.mean((0, 1))).max() < 2.0
    p = psnr(got, want)
    report(f"avif tile {region}/{size}: {len(r.body)} B, PSNR {p:.1f} dB against Pillow")
    assert p > 30, p


def test_alpha_and_gray_are_kept(client):
    rgba = get_avif(client, "/iiif/3/rgba/full/max/0/default.avif")
    got = vips_decode(rgba.body)
    assert got.shape == (300, 400, 4), got.shape
    # Alpha ramps from opaque (left) to transparent (right).
    left, right = got[:, :40, 3].mean(), got[:, -40:, 3].mean()
    assert left > 230 and right < 25, (left, right)
    gray = get_avif(client, f"{IMG3}/full/200,/0/gray.avif")
    g = vips_decode(gray.body).astype(int)
    assert g.shape[:2] == (140, 200)
    assert np.abs(g[..., 0] - g[..., 1]).max() <= 2 and np.abs(g[..., 1] - g[..., 2]).max() <= 2


def test_avif_is_listed_in_both_versions(client):
    v3 = client.get(f"{IMG3}/info.json").json()
    assert "avif" in v3["extraFormats"], v3["extraFormats"]
    # 2.1's format table is not closed and profile.formats is "the set of image format parameter
    # values available for the image".
    v2 = client.get(f"{IMG2}/info.json").json()
    assert "avif" in v2["profile"][1]["formats"], v2["profile"]
    # Not configured: no preferredFormats anywhere.
    assert "preferredFormats" not in v3 and "preferredFormats" not in v2


def test_the_rotated_avif_has_the_rotated_size_and_a_transparent_corner(client):
    got = vips_decode(get_avif(client, f"{IMG3}/full/200,/45/default.avif").body)
    assert got.shape[2] == 4
    assert abs(got.shape[1] - got.shape[0]) <= 1  # 200x140 turned by 45 degrees: about 240x240
    assert got[0, 0, 3] < 10, got[0, 0]


def _server(root, tmp_path, name: str, toml: str) -> Server:
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(toml)
    return Server(root, ["--config", str(cfg)], tmp_path / f"{name}.log")


def test_preferred_formats_are_listed_in_3_0_only_and_each_is_served(images, tmp_path):
    s = _server(images, tmp_path, "preferred", '[output]\npreferred_formats = ["avif", "webp", "jpg"]\n')
    try:
        v3 = s.client.get(f"/iiif/3/{VALIDATOR_ID}/info.json").json()
        assert v3["preferredFormats"] == ["avif", "webp", "jpg"]
        served = {"jpg", "png"} | set(v3["extraFormats"])
        assert set(v3["preferredFormats"]) <= served
        for fmt in v3["preferredFormats"]:
            r = s.client.get(f"/iiif/3/{VALIDATOR_ID}/full/64,/0/default.{fmt}")
            assert r.status == 200, (fmt, r)
        v2 = s.client.get(f"/iiif/2/{VALIDATOR_ID}/info.json").json()
        assert "preferredFormats" not in v2 and "preferredFormats" not in v2["profile"][1]
    finally:
        s.stop()


def _refused(images, tmp_path, toml: str, extra_env: dict | None = None) -> str:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(extra_env or {})
    out = subprocess.run(
        [str(tessera_bin()), "serve", "--images", str(images), "--listen", f"{HOST}:{free_port()}", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode != 0, out
    return out.stdout + out.stderr


@pytest.mark.parametrize(
    "toml, needle",
    [
        ('[output]\npreferred_formats = ["webp", "jp2"]\n', '"jp2" is not a format Tessera serves'),
        ('[output]\npreferred_formats = ["jpg", "jpg"]\n', 'lists "jpg" twice'),
        ("[output]\navif_quality = 101\n", "output.avif_quality must be from 1 to 100"),
    ],
)
def test_a_bad_output_setting_is_refused_at_start(images, tmp_path, toml, needle):
    text = _refused(images, tmp_path, toml)
    assert needle in text, text


def test_a_bad_preferred_format_in_the_environment_is_refused(images, tmp_path):
    text = _refused(images, tmp_path, "", {"TESSERA_OUTPUT_PREFERRED_FORMATS": "webp,pdf"})
    assert "output.preferred_formats" in text and '"pdf"' in text, text


def test_avif_quality_sets_the_size_and_keys_the_cache(images, tmp_path):
    path = f"/iiif/3/pixels/full/500,/0/default.avif"
    sizes = {}
    for q in (30, 90):
        s = _server(images, tmp_path, f"q{q}", f"[output]\navif_quality = {q}\n[cache]\ndir = \"{tmp_path / 'cache'}\"\n")
        try:
            r = get_avif(s.client, path)
            sizes[q] = (len(r.body), r.header("ETag"))
        finally:
            s.stop()
    # Same cache folder for both: the second server must not have served the first one's file.
    assert sizes[30][0] < sizes[90][0] / 2, sizes
    assert sizes[30][1] != sizes[90][1], sizes
