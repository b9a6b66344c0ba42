"""Colour, depth and orientation: Tessera's pixels against an independent, colour-managed reference.

The reference is Pillow with ImageCms (LittleCMS): embedded ICC profiles converted to sRGB, CMYK
through its profile, CIE Lab through LittleCMS's Lab profile, EXIF orientation applied by ImageOps.exif_transpose, 16-bit and
float samples scaled as Tessera documents. CMYK without a profile is compared with libvips (pyvips),
which assumes its built-in CMYK profile, the one Tessera ships. Every comparison prints its mean error per channel
(0-255) in the "tessera measurements" section.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import numpy as np
import pytest
import pyvips
import tifffile
from PIL import Image, ImageCms, ImageOps

from conftest import CORPUS, REPO_ROOT, VALIDATOR_ID, Server, make_validator_image, tessera_bin
from iiif_helpers import libvips_srgb, mean_abs_diff

SRGB = ImageCms.createProfile("sRGB")

# (corpus path, tolerance). Lossless sources get a tight bound; JPEG-coded ones allow for
# decoder differences (mozjpeg vs Pillow's libjpeg) and ICC engines (moxcms vs LittleCMS).
CASES = [
    ("tiff/striped_rgb8_deflate_icc__pillow-tiff_adobe_deflate.tif", 1.5),
    ("tiff/icc_rgb8_uncompressed__pillow-hopper.iccprofile.tif", 1.5),
    ("tiff/16bit_rgba_lzw_icc__pillow-tiff_16bit_RGBa.tiff", 1.5),
    ("tiff/16bit_rgb_planar-separate_lzw__pillow-tiff_strip_planar_16bit_RGB.tiff", 1.0),
    ("tiff/16bit_gray_deflate_big-endian__pillow-16bit.MM.deflate.tif", 1.0),
    ("tiff/16bit_gray_satellite_1800x400__pillow-cmx3g8_wv_1998.260_0745_mcidas.tiff", 1.0),
    ("tiff/cmyk16_uncompressed__pillow-tiff_strip_cmyk_16l_jpeg.tif", 1.0),
    ("tiff/cmyk8_jpeg__pillow-tiff_strip_cmyk_jpeg.tif", 1.0),
    ("tiff/cielab8__pillow-hopper.Lab.tif", 2.0),
    ("tiff/palette4__libtiff-palette-1c-4b.tiff", 0.5),
    ("tiff/palette8_lzw_extrasample__pillow-rdf.tif", 0.5),
    ("tiff/multipage_palette1_3pages__pillow-multipage.tiff", 0.5),
    ("tiff/gray4__pillow-hopper_gray_4bpp.tif", 0.5),
    ("tiff/gray2__vips-2bit.tif", 0.5),
    ("tiff/bilevel1_minisblack__vips-1bit.tif", 0.5),
    ("tiff/striped_bilevel_ccitt-g4__pillow-hopper_g4_500.tif", 0.5),
    ("tiff/striped_bilevel_ccitt-g3_multipage__pillow-total-pages-zero.tif", 0.5),
    ("tiff/striped_bilevel_lzw_single-strip_7795x3122__libtiff-lzw-single-strip.tiff", 0.5),
    ("tiff/float32_gray_no-photometric__pillow-10ct_32bit_128.tiff", 1.0),
    ("tiff/lzma__pillow-hopper_lzma.tif", 0.5),
    ("tiff/striped_ycbcr_jpeg_2x2subsampled__pillow-tiff_strip_ycbcr_jpeg_2x2_sampling.tif", 3.0),
    ("tiff/striped_rgb_jpeg_photometric-rgb__pillow-hopper_jpg.tif", 3.0),
    ("tiff/tiled_ycbcr_jpeg_icc__pillow-tiff_tiled_ycbcr_jpeg_1x1_sampling.tif", 3.0),
    ("tiff/striped_ycbcr_old-style-jpeg__pillow-old-style-jpeg-compression.tif", 3.0),
    ("jpeg/baseline_rgb_icc__skimage-hubble_deep_field.jpg", 3.0),
    ("jpeg/progressive_rgb_big-icc__pillow-icc_profile_big.jpg", 3.0),
    ("jpeg/cmyk_adobe__pillow-pil_sample_cmyk.jpg", 1.0),
    ("jpeg/grayscale__pillow-hopper_gray.jpg", 2.0),
    ("png/rgb16_icc_rec709_camera__libjxl-DJI-FC6310-16bit_709_v4_krita.png", 1.5),
    ("png/rgba8_icc__pillow-icc_profile.png", 1.5),
    ("png/rgb8_icc_display-p3__libjxl-P3-sRGB-color-bars.png", 1.5),
    ("png/photo_rgb8_icc__skimage-astronaut.png", 1.5),
    ("png/palette8_trns__pngsuite-ftbbn3p08.png", 0.5),
    ("png/gray-alpha8__pngsuite-basn4a08.png", 0.5),
    ("webp/lossy_icc_exif_xmp__pillow-flower2.webp", 1.5),
] + [(f"jpeg/exif-orientation-{n}__pillow-hopper_orientation_{n}.jpg", 3.0) for n in range(2, 9)]


def reference(path) -> Image.Image:
    """The expected sRGB rendering of `path`, flattened on white."""
    im = Image.open(path)
    im.seek(0)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        im = ImageOps.exif_transpose(im)
    icc = im.info.get("icc_profile")
    if im.mode == "CMYK":
        if icc:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, SRGB, outputMode="RGB")
        return flatten(libvips_srgb(path))
    if im.mode == "LAB":
        t = ImageCms.buildTransform(ImageCms.createProfile("LAB"), SRGB, "LAB", "RGB")
        return ImageCms.applyTransform(im, t)
    if im.mode == "F":
        lo, hi = im.getextrema()
        if not (lo >= 0 and hi <= 1):
            im = im.point(lambda v: (v - lo) * 255.0 / (hi - lo))
        else:
            im = im.point(lambda v: v * 255.0)
        return im.convert("L").convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return im.convert("I").point(lambda v: v / 257.0).convert("L").convert("RGB")
    if im.mode in ("P", "PA", "LA", "RGBA", "1", "L"):
        im = im.convert("RGBA")
    if icc and im.mode in ("RGB", "RGBA"):
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        im = ImageCms.profileToProfile(im, src, SRGB, outputMode=im.mode)
    return flatten(im)


def flatten(im: Image.Image) -> Image.Image:
    """RGB, with any alpha composited on white (so hidden colours under alpha 0 do not count)."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


@pytest.fixture(scope="module")
def corpus_server(tmp_path_factory):
    if not (CORPUS / "manifest.tsv").is_file():
        pytest.skip("shared corpus not available")
    root = tmp_path_factory.mktemp("colour")
    make_validator_image().save(root / f"{VALIDATOR_ID}.png")
    for path, _ in CASES:
        dst = root / path
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / path, dst)
    # A non-square JPEG with EXIF orientation 6, so that swapped sizes show.
    im = Image.new("RGB", (60, 40), (200, 30, 30))
    im.paste((20, 20, 220), (0, 0, 20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(root / "oriented6.jpg", quality=95, exif=exif.tobytes())
    make_oriented_images(im, root)
    make_cmyk_images(root)
    # Pixels are compared at full size, and the 7795x3122 bilevel TIFF is over the default maxArea.
    s = Server(root, ["--max-area", "0"], tmp_path_factory.mktemp("log") / "tessera-colour.log")
    yield s, root
    s.stop()


# Untagged CMYK written here: ink ramps and overprints across the gamut, as TIFF (8-bit, and with an
# alpha channel), as an Adobe JPEG (Pillow stores CMYK inverted, as Photoshop does).
GENERATED_CMYK = ["cmyk-ramps.tif", "cmyk-ramps.jpg", "cmyka-ramps.tif"]


def cmyk_ramps() -> np.ndarray:
    """96x96 CMYK: cyan across, magenta down, yellow and black in blocks."""
    ramp = np.linspace(0, 255, 96).astype(np.uint8)
    c = np.tile(ramp, (96, 1))
    y = np.zeros_like(c)
    y[:48] = 128
    y[48:, 48:] = 255
    k = np.zeros_like(c)
    k[:, 32:64] = 90
    k[:, 64:] = 200
    return np.dstack([c, c.T, y, k])


def make_cmyk_images(root) -> None:
    cmyk = cmyk_ramps()
    Image.fromarray(cmyk, "CMYK").save(root / "cmyk-ramps.tif")
    Image.fromarray(cmyk, "CMYK").save(root / "cmyk-ramps.jpg", quality=98)
    alpha = np.tile(np.linspace(255, 60, 96).astype(np.uint8)[:, None], (1, 96))
    tifffile.imwrite(
        root / "cmyka-ramps.tif",
        np.dstack([cmyk, alpha]),
        photometric="separated",
        extrasamples=[2],  # unassociated alpha
    )


@pytest.mark.parametrize("name", GENERATED_CMYK)
def test_untagged_cmyk_matches_libvips(corpus_server, report, name):
    """CMYK without a profile goes through the built-in press profile, as libvips renders it, and
    not through the uncalibrated formula (which is tens of levels away on these ramps)."""
    server, root = corpus_server
    r = server.client.get(f"/iiif/3/{name}/full/max/0/default.png")
    assert r.status == 200, r
    got = flatten(r.image())
    err = mean_abs_diff(got, flatten(libvips_srgb(root / name)))
    ink = cmyk_ramps().astype(float) / 255.0
    formula = Image.fromarray(
        np.rint(255 * (1 - ink[..., :3]) * (1 - ink[..., 3:])).astype(np.uint8), "RGB"
    )
    if name.startswith("cmyka"):
        formula = flatten(Image.merge("RGBA", (*formula.split(), r.image().getchannel("A"))))
    err_formula = mean_abs_diff(got, formula)
    report(f"colour {name}: mean abs err vs libvips {err:.3f} (vs the uncalibrated formula {err_formula:.1f})")
    assert err < 1.0
    assert err_formula > 8
    if name.startswith("cmyka"):
        assert r.image().mode == "RGBA", "alpha is kept for PNG"


def test_shipped_cmyk_profile_is_libvips_builtin():
    """The shipped profile's colour tags are byte for byte those of libvips's built-in CMYK profile."""
    ours = (REPO_ROOT / "crates/image/profiles/cmyk-chemical-proof.icc").read_bytes()
    theirs = pyvips.Image.profile_load("cmyk")
    assert struct.unpack(">I", ours[:4])[0] == len(ours) and ours[36:40] == b"acsp"
    assert ours[16:20] == b"CMYK" and ours[20:24] == b"Lab "
    for sig in (b"A2B0", b"A2B1", b"B2A0", b"wtpt", b"desc", b"cprt"):
        assert icc_tag(ours, sig) == icc_tag(theirs, sig), sig
    assert b"public domain" in icc_tag(ours, b"cprt")


def icc_tag(icc: bytes, sig: bytes) -> bytes:
    (count,) = struct.unpack(">I", icc[128:132])
    for i in range(count):
        s, off, size = struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i])
        if s == sig:
            return icc[off : off + size]
    raise KeyError(sig)


def black_reversed(icc: bytes) -> bytes:
    """A variant of a CMYK lut16 profile whose black input curve runs backwards, so that no black
    ink renders as full black (all A2B tags of the shipped profile share one table)."""
    out = bytearray(icc)
    (count,) = struct.unpack(">I", icc[128:132])
    done = set()
    for i in range(count):
        sig, off, _ = struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i])
        if not sig.startswith(b"A2B") or off in done:
            continue
        done.add(off)
        assert icc[off : off + 4] == b"mft2" and icc[off + 8] == 4
        (entries,) = struct.unpack(">H", icc[off + 48 : off + 50])
        start = off + 52 + 3 * 2 * entries
        curve = struct.unpack(f">{entries}H", icc[start : start + 2 * entries])
        out[start : start + 2 * entries] = struct.pack(f">{entries}H", *reversed(curve))
    return bytes(out)


def test_cmyk_profile_setting(corpus_server, tmp_path, report):
    """`colour.cmyk_profile` replaces the built-in profile for untagged CMYK (and only for those);
    a file that is not a CMYK profile stops the server at startup with the setting named."""
    _, root = corpus_server
    builtin = (REPO_ROOT / "crates/image/profiles/cmyk-chemical-proof.icc").read_bytes()
    custom = tmp_path / "black-reversed.icc"
    custom.write_bytes(black_reversed(builtin))
    config = tmp_path / "tessera.toml"
    config.write_text(f'[colour]\ncmyk_profile = "{custom}"\n')
    s = Server(root, ["--config", str(config)], tmp_path / "tessera-cmyk.log")
    try:
        got = flatten(s.client.get("/iiif/3/cmyk-ramps.tif/full/max/0/default.png").image())
    finally:
        s.stop()
    err = mean_abs_diff(got, libvips_srgb(root / "cmyk-ramps.tif", input_profile=str(custom)))
    err_builtin = mean_abs_diff(got, libvips_srgb(root / "cmyk-ramps.tif"))
    report(f"colour cmyk_profile (black curve reversed): vs libvips with it {err:.3f}, vs built-in {err_builtin:.1f}")
    assert err < 1.0 and err_builtin > 8
    # No ink but half yellow at the top left: dark with the reversed black curve.
    assert max(got.getpixel((0, 0))) < 80, got.getpixel((0, 0))

    rgb = tmp_path / "srgb.icc"
    rgb.write_bytes(ImageCms.ImageCmsProfile(SRGB).tobytes())
    for bad, why in ((rgb, "not a CMYK"), (tmp_path / "missing.icc", "missing.icc")):
        config.write_text(f'[colour]\ncmyk_profile = "{bad}"\n')
        proc = subprocess.run(
            [str(tessera_bin()), "serve", "--images", str(root), "--config", str(config), "--listen", "127.0.0.1:0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode != 0
        assert "colour.cmyk_profile" in proc.stderr and why in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("path,tolerance", CASES, ids=[c[0].split("__")[0] for c in CASES])
def test_pixels_match_colour_managed_reference(corpus_server, report, path, tolerance):
    server, root = corpus_server
    ident = path.replace("/", "%2F")
    r = server.client.get(f"/iiif/3/{ident}/full/max/0/default.png")
    assert r.status == 200, r
    got = flatten(r.image())
    want = reference(root / path)
    assert got.size == want.size
    err = mean_abs_diff(got, want)
    report(f"colour {path.split('__')[0]}: mean abs err {err:.3f} (tolerance {tolerance})")
    assert err < tolerance


def test_exif_orientation_swaps_info_sizes(corpus_server, report):
    server, root = corpus_server
    r = server.client.get("/iiif/3/oriented6.jpg/info.json")
    assert r.status == 200, r
    info = r.json()
    assert (info["width"], info["height"]) == (40, 60)
    got = server.client.get("/iiif/3/oriented6.jpg/full/max/0/default.png").image().convert("RGB")
    want = ImageOps.exif_transpose(Image.open(root / "oriented6.jpg")).convert("RGB")
    assert got.size == want.size == (40, 60)
    err = mean_abs_diff(got, want)
    report(f"colour oriented6 (60x40 stored): mean abs err {err:.3f}")
    assert err < 3.0
    # The blue mark, stored top-left, is shown top-right after a 90 degree clockwise turn.
    r_, g_, b_ = got.getpixel((35, 3))
    assert b_ > 150 and r_ < 100


def make_oriented_images(im: Image.Image, root) -> None:
    """The 60x40 picture as a WebP and a PNG (eXIf) with EXIF orientation 6 and as a striped TIFF
    with Orientation 6; scaled to 300x200, a tiled TIFF (128x64 tiles) with Orientation 8."""
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(root / "oriented6.webp", lossless=True, exif=exif.tobytes())
    im.save(root / "oriented6.png", exif=exif.tobytes())
    pixels = np.asarray(im)
    tifffile.imwrite(root / "oriented6.tif", pixels, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    big = np.asarray(im.resize((300, 200), Image.Resampling.NEAREST))
    tifffile.imwrite(
        root / "oriented8-tiled.tif", big, photometric="rgb", tile=(64, 128), extratags=[(274, "H", 1, 8, True)]
    )


@pytest.mark.parametrize("name", ["oriented6.webp", "oriented6.png", "oriented6.tif", "oriented8-tiled.tif"])
def test_png_webp_and_tiff_orientation(corpus_server, report, name):
    """EXIF orientation of WebP and PNG and the TIFF Orientation tag are applied like JPEG's: sizes, tiles
    and pixels are those of the displayed image (Pillow's exif_transpose is the reference)."""
    server, root = corpus_server
    if name.endswith(".tif"):
        # (Pillow applies the TIFF Orientation tag when it opens the file; tifffile does not.)
        height, width = tifffile.TiffFile(root / name).pages[0].shape[:2]
        stored = (width, height)
    else:
        stored = Image.open(root / name).size
    info = server.client.get(f"/iiif/3/{name}/info.json").json()
    assert (info["width"], info["height"]) == (stored[1], stored[0])
    if "tiled" in name:
        # 128x64 stored tiles are 64x128 once turned.
        assert (info["tiles"][0]["width"], info["tiles"][0].get("height")) == (64, 128), info["tiles"]
    want = ImageOps.exif_transpose(Image.open(root / name)).convert("RGB")
    assert want.size == (stored[1], stored[0])
    got = server.client.get(f"/iiif/3/{name}/full/max/0/default.png").image().convert("RGB")
    err = mean_abs_diff(got, want)
    # A region in displayed coordinates: the top-left quarter.
    qw, qh = want.size[0] // 2, want.size[1] // 2
    part = server.client.get(f"/iiif/3/{name}/0,0,{qw},{qh}/max/0/default.png").image().convert("RGB")
    err_part = mean_abs_diff(part, want.crop((0, 0, qw, qh)))
    report(f"colour {name} ({stored[0]}x{stored[1]} stored): mean abs err {err:.3f}, top-left region {err_part:.3f}")
    assert err < 0.5 and err_part < 0.5


def test_keep_and_no_orientation_settings(corpus_server, tmp_path, report):
    """`[colour] icc = "keep"` serves stored values; `auto_orient = false` serves stored pixels."""
    _, root = corpus_server
    config = tmp_path / "tessera.toml"
    config.write_text('[colour]\nicc = "keep"\nauto_orient = false\n')
    s = Server(root, ["--config", str(config)], tmp_path / "tessera-keep.log")
    try:
        p3 = "png/rgb8_icc_display-p3__libjxl-P3-sRGB-color-bars.png"
        got = s.client.get(f"/iiif/3/{p3.replace('/', '%2F')}/full/max/0/default.png").image().convert("RGB")
        stored = Image.open(root / p3).convert("RGB")
        err_stored = mean_abs_diff(got, stored)
        err_managed = mean_abs_diff(got, reference(root / p3))
        report(f"colour keep: P3 vs stored {err_stored:.3f}, vs sRGB-converted {err_managed:.3f}")
        assert err_stored < 0.5 and err_managed > 5
        for name in ("oriented6.jpg", "oriented6.webp", "oriented6.png", "oriented6.tif"):
            info = s.client.get(f"/iiif/3/{name}/info.json").json()
            assert (info["width"], info["height"]) == (60, 40), name
    finally:
        s.stop()
