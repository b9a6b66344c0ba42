"""Pixel checks: what Tessera returns, decoded by Pillow, against what Pillow makes of the same source.

The source is generated here (conftest.make_pixels_image: 1000x700, four coloured quadrants blended
with gradients, a white block at 600..699,100..199, a black block at 300..399,450..549 and a
magenta mark at 20..59,20..59). Mean absolute errors are printed in the end-of-run summary.
"""

from __future__ import annotations

import math

import pytest
from PIL import Image, ImageChops, ImageStat

from conftest import CORPUS_SMOKE, PIX_H, PIX_W
from iiif_helpers import mean_abs_diff, reference, region_box, rotated_bbox, size_candidates, to_rgb

LOSSLESS = 1.0  # crops/format changes without resampling: essentially exact
RESAMPLED = 3.0  # lossless output, but the server's resampling filter may differ from Pillow's
LOSSY = 8.0  # jpg / lossy webp output


def get_image(client, path: str) -> Image.Image:
    r = client.get(path)
    assert r.status == 200, r
    return r.image()


def assert_size_in(img: Image.Image, ws: set[int], hs: set[int]):
    assert img.size[0] in ws and img.size[1] in hs, f"size {img.size}, expected width in {ws}, height in {hs}"


# ------------------------------------------------------------------------------------- regions

REGIONS = [
    "full",
    "100,140,500,350",
    "pct:10,20,50,50",
    "pct:50,50,50,50",
    "900,600,300,300",  # extends beyond the image: cropped at the edge to 100x100
    "0,0,1,1",
    "999,699,1,1",
    "0,0,1000,700",
    "20,20,40,40",  # exactly the magenta mark
]


@pytest.mark.parametrize("region", REGIONS)
def test_region_crop_matches_pillow(client, pixels_image, report, region):
    img = get_image(client, f"/iiif/3/pixels/{region}/max/0/default.png")
    x, y, w, h = region_box(region, PIX_W, PIX_H)
    assert img.size == (w, h)
    err = mean_abs_diff(img, reference(pixels_image, region, "max"))
    report(f"pixels region {region:>18} png: mean abs err {err:.3f}")
    assert err < LOSSLESS


def test_region_square_is_a_square_crop(client, pixels_image, report):
    img = get_image(client, "/iiif/3/pixels/square/max/0/default.png").convert("RGB")
    assert img.size == (PIX_H, PIX_H)
    # The square may sit anywhere along the longer (horizontal) axis: find where, then compare.
    row = img.crop((0, 0, PIX_H, 1))
    best = min(
        range(0, PIX_W - PIX_H + 1),
        key=lambda off: mean_abs_diff(row, pixels_image.crop((off, 0, off + PIX_H, 1))),
    )
    err = mean_abs_diff(img, pixels_image.crop((best, 0, best + PIX_H, PIX_H)))
    report(f"pixels region square (offset {best}) png: mean abs err {err:.3f}")
    assert err < LOSSLESS


def test_region_pct_float(client, pixels_image, report):
    # pct:12.5,25,50,50 of 1000x700 is 125,175,500,350
    img = get_image(client, "/iiif/3/pixels/pct:12.5,25,50,50/max/0/default.png")
    assert img.size == (500, 350)
    err = mean_abs_diff(img, pixels_image.crop((125, 175, 625, 525)))
    report(f"pixels region pct:12.5,25,50,50 png: mean abs err {err:.3f}")
    assert err < LOSSLESS


# --------------------------------------------------------------------------------------- sizes

SIZES_3 = [
    ("full", "max"),
    ("full", "500,"),
    ("full", ",350"),
    ("full", "pct:25"),
    ("full", "pct:33.3"),
    ("full", "400,400"),  # distorted
    ("full", "!400,400"),
    ("full", "!2000,350"),
    ("full", "333,"),
    ("full", "1000,700"),
    ("full", "^1500,"),
    ("full", "^,1050"),
    ("full", "^pct:150"),
    ("full", "^!2000,2000"),
    ("full", "^1200,900"),
    ("full", "^500,"),  # ^ without actual upscaling is fine
    ("100,140,500,350", "250,"),
    ("100,140,500,350", "max"),
    ("pct:10,20,50,50", "!100,100"),
    ("900,600,300,300", "50,"),
    ("0,0,10,10", "^40,40"),
]


@pytest.mark.parametrize("region,size", SIZES_3)
def test_size_v3(client, pixels_image, report, region, size):
    img = get_image(client, f"/iiif/3/pixels/{region}/{size}/0/default.png")
    _, _, rw, rh = region_box(region, PIX_W, PIX_H)
    ws, hs = size_candidates(size, rw, rh)
    assert_size_in(img, ws, hs)
    err = mean_abs_diff(img, reference(pixels_image, region, size))
    report(f"pixels v3 {region:>16} / {size:<11} -> {img.size}: mean abs err {err:.3f}")
    assert err < RESAMPLED


SIZES_2 = [
    ("full", "full"),
    ("full", "max"),
    ("full", "500,"),
    ("full", ",175"),
    ("full", "pct:50"),
    ("full", "300,300"),
    ("full", "!300,300"),
    ("full", "2000,"),  # 2.1 may scale above full size without ^ (sizeAboveFull)
    ("100,140,500,350", "full"),
]


@pytest.mark.parametrize("region,size", SIZES_2)
def test_size_v2(client, pixels_image, report, region, size):
    img = get_image(client, f"/iiif/2/pixels/{region}/{size}/0/default.png")
    _, _, rw, rh = region_box(region, PIX_W, PIX_H)
    ws, hs = size_candidates("^" + size if size == "2000," else size, rw, rh)
    assert_size_in(img, ws, hs)
    err = mean_abs_diff(img, reference(pixels_image, region, "^" + size if size == "2000," else size))
    report(f"pixels v2 {region:>16} / {size:<11} -> {img.size}: mean abs err {err:.3f}")
    assert err < RESAMPLED


# ------------------------------------------------------------------------------------ rotation

ROTATIONS = ["90", "180", "270", "!0", "!90", "!180", "!270", "360", "90.0"]


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_rotation_by_90s_and_mirroring(client, pixels_image, report, rotation):
    img = get_image(client, f"/iiif/3/pixels/full/500,/{rotation}/default.png")
    rot = rotation.lstrip("!")
    deg = float(rot) % 360
    expected = reference(pixels_image, "full", "500,", ("!" if rotation.startswith("!") else "") + str(int(deg)))
    assert img.size == expected.size
    err = mean_abs_diff(img, expected)
    report(f"pixels rotation {rotation:>5} png: mean abs err {err:.3f}")
    assert err < RESAMPLED


def test_mirror_puts_mark_top_right(client):
    img = get_image(client, "/iiif/3/pixels/full/max/!0/default.png").convert("RGB")
    assert img.size == (PIX_W, PIX_H)
    assert img.getpixel((PIX_W - 1 - 40, 40)) == (255, 0, 255)
    assert img.getpixel((40, 40)) != (255, 0, 255)


def test_rotate_90_puts_mark_top_right(client):
    img = get_image(client, "/iiif/3/pixels/full/max/90/default.png").convert("RGB")
    assert img.size == (PIX_H, PIX_W)
    # (40,40) in the source goes to (H-1-40, 40) after 90 degrees clockwise
    assert img.getpixel((PIX_H - 1 - 40, 40)) == (255, 0, 255)


def _alpha(img: Image.Image) -> Image.Image:
    return img.convert("RGBA").getchannel("A")


@pytest.mark.parametrize("fmt", ["png", "webp", "gif", "tif"])
@pytest.mark.parametrize("rotation", ["30", "!22.5"])
def test_rotation_arbitrary_transparent(client, pixels_image, report, fmt, rotation):
    img = get_image(client, f"/iiif/3/pixels/full/500,/{rotation}/default.{fmt}")
    deg = float(rotation.lstrip("!"))
    bw, bh = rotated_bbox(500, 350, deg)
    assert abs(img.size[0] - bw) <= 2 and abs(img.size[1] - bh) <= 2, f"{img.size} vs bounding box {bw:.1f}x{bh:.1f}"
    alpha = _alpha(img)
    w, h = img.size
    corners = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)]
    assert [alpha.getpixel(c) for c in corners] == [0, 0, 0, 0], "background must be transparent"
    assert alpha.getpixel((w // 2, h // 2)) == 255
    # The middle of the picture must be the middle of the source, turned the right way.
    src = pixels_image.resize((500, 350), Image.Resampling.LANCZOS).convert("RGBA")
    if rotation.startswith("!"):
        src = src.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    ref = src.rotate(-deg, resample=Image.Resampling.BICUBIC, expand=True)
    ref = ref.resize(img.size, Image.Resampling.BICUBIC)
    box = (w // 2 - 80, h // 2 - 80, w // 2 + 80, h // 2 + 80)
    err = mean_abs_diff(to_rgb(img.convert("RGBA")).crop(box), ref.convert("RGB").crop(box))
    report(f"pixels rotation {rotation:>5} {fmt}: size {img.size}, centre mean abs err {err:.3f}")
    assert err < (15.0 if fmt == "gif" else LOSSY)


def test_rotation_arbitrary_jpg_white_background(client, pixels_image, report):
    img = get_image(client, "/iiif/3/pixels/full/500,/45/default.jpg").convert("RGB")
    bw, bh = rotated_bbox(500, 350, 45)
    assert abs(img.size[0] - bw) <= 2 and abs(img.size[1] - bh) <= 2
    w, h = img.size
    for c in [(1, 1), (w - 2, 1), (1, h - 2), (w - 2, h - 2)]:
        assert min(img.getpixel(c)) >= 235, f"corner {c} is {img.getpixel(c)}, expected white"
    ref = pixels_image.resize((500, 350), Image.Resampling.LANCZOS).rotate(
        -45, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
    )
    err = mean_abs_diff(img, ref)
    report(f"pixels rotation 45 jpg (white fill): mean abs err {err:.3f}")
    assert err < LOSSY


# ------------------------------------------------------------------------------------- quality


def _is_gray(img: Image.Image) -> bool:
    if img.mode in ("L", "LA", "1", "I", "I;16"):
        return True
    rgb = img.convert("RGB")
    r, g, b = rgb.split()
    return ImageChops.difference(r, g).getbbox() is None and ImageChops.difference(g, b).getbbox() is None


def test_quality_gray_png(client, pixels_image, report):
    img = get_image(client, "/iiif/3/pixels/full/max/0/gray.png")
    assert img.size == (PIX_W, PIX_H)
    assert _is_gray(img), f"mode {img.mode} with differing channels"
    gray = img.convert("L")
    rec601 = pixels_image.convert("L")
    rec709 = pixels_image.convert("L", (0.2126, 0.7152, 0.0722, 0))
    err = min(mean_abs_diff(gray, rec601, "L"), mean_abs_diff(gray, rec709, "L"))
    report(f"pixels gray png vs Rec.601/709 luma: mean abs err {err:.3f}")
    assert err < RESAMPLED


def test_quality_gray_jpg(client):
    img = get_image(client, "/iiif/3/pixels/full/500,/0/gray.jpg")
    if img.mode != "L":
        r, g, b = img.convert("RGB").split()
        spread = ImageStat.Stat(ImageChops.difference(r, g)).mean[0] + ImageStat.Stat(ImageChops.difference(g, b)).mean[0]
        assert spread < 2, f"gray jpg has colour (mean channel spread {spread:.2f})"


@pytest.mark.parametrize("version", ["3", "2"])
def test_quality_bitonal_png(client, version):
    size = "max" if version == "3" else "full"
    img = get_image(client, f"/iiif/{version}/pixels/full/{size}/0/bitonal.png")
    assert img.size == (PIX_W, PIX_H)
    l = img.convert("L")
    values = {v for _, v in l.getcolors(256)}
    assert values <= {0, 255}, f"bitonal image has values {sorted(values)[:10]}..."
    if img.mode not in ("1", "L", "LA"):
        assert _is_gray(img)
    assert l.getpixel((650, 150)) == 255, "the white block must stay white"
    assert l.getpixel((350, 500)) == 0, "the black block must stay black"


def test_quality_bitonal_jpg(client):
    img = get_image(client, "/iiif/3/pixels/full/500,/0/bitonal.jpg").convert("L")
    hist = img.histogram()
    near = sum(hist[:24]) + sum(hist[232:])
    assert near / (img.size[0] * img.size[1]) > 0.95


def test_quality_color_and_default_equal(client, report):
    a = get_image(client, "/iiif/3/pixels/full/300,/0/color.png")
    b = get_image(client, "/iiif/3/pixels/full/300,/0/default.png")
    err = mean_abs_diff(a, b)
    report(f"pixels color vs default png: mean abs err {err:.3f}")
    assert err < 0.5


def test_quality_color_of_gray_source_is_served(client):
    img = get_image(client, "/iiif/3/gray/full/200,/0/color.png")
    assert img.size == (200, 140)


# -------------------------------------------------------------------------------------- formats

FORMATS = {
    "jpg": ("JPEG", "image/jpeg", LOSSY),
    "png": ("PNG", "image/png", RESAMPLED),
    "webp": ("WEBP", "image/webp", LOSSY),
    "gif": ("GIF", "image/gif", 15.0),  # 256-colour palette
    "tif": ("TIFF", "image/tiff", RESAMPLED),
}


@pytest.mark.parametrize("version", ["3", "2"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_format_decodes(client, pixels_image, report, fmt, version):
    pil_format, ctype, tol = FORMATS[fmt]
    r = client.get(f"/iiif/{version}/pixels/full/500,/0/default.{fmt}")
    assert r.status == 200, r
    assert r.header("Content-Type", "").split(";")[0].strip() == ctype
    img = r.image()
    assert img.format == pil_format
    assert img.size == (500, 350)
    assert img.mode in ("RGB", "RGBA", "P", "L"), img.mode
    err = mean_abs_diff(to_rgb(img), reference(pixels_image, "full", "500,"))
    report(f"pixels v{version} format {fmt:>4}: mean abs err {err:.3f}")
    assert err < tol


# ------------------------------------------------------------------------------ source variety


def test_striped_tiff_region_across_strips(client, pixels_image, report):
    img = get_image(client, "/iiif/3/pixels-striped.tif/100,50,800,600/max/0/default.png")
    assert img.size == (800, 600)
    err = mean_abs_diff(img, pixels_image.crop((100, 50, 900, 650)))
    report(f"striped tiff region: mean abs err {err:.3f}")
    assert err < LOSSLESS


def test_striped_tiff_scaled(client, pixels_image, report):
    img = get_image(client, "/iiif/3/pixels-striped/full/250,/0/default.png")
    assert img.size == (250, 175)
    err = mean_abs_diff(img, reference(pixels_image, "full", "250,"))
    report(f"striped tiff 250,: mean abs err {err:.3f}")
    assert err < RESAMPLED


def test_jpeg_source(client, images, report):
    src = Image.open(images / "photo.jpg").convert("RGB")
    img = get_image(client, "/iiif/3/photo/200,100,400,300/max/0/default.png")
    assert img.size == (400, 300)
    err = mean_abs_diff(img, src.crop((200, 100, 600, 400)))
    report(f"jpeg source region: mean abs err {err:.3f}")
    assert err < 3.0


def test_gray_tiff_source(client, pixels_image, report):
    img = get_image(client, "/iiif/3/gray.tif/full/max/0/default.png")
    assert img.size == (PIX_W, PIX_H)
    assert _is_gray(img)
    err = mean_abs_diff(img, pixels_image.convert("L"), "L")
    report(f"gray tiff source: mean abs err {err:.3f}")
    assert err < LOSSLESS


def test_palette_tiff_source(client, images, report):
    src = Image.open(images / "palette.tif").convert("RGB")
    img = get_image(client, "/iiif/3/palette/300,200,400,300/max/0/default.png")
    assert img.size == (400, 300)
    err = mean_abs_diff(to_rgb(img), src.crop((300, 200, 700, 500)))
    report(f"palette tiff source: mean abs err {err:.3f}")
    assert err < LOSSLESS


def test_rgba_png_keeps_alpha(client, images, report):
    src = Image.open(images / "rgba.png").convert("RGBA")
    img = get_image(client, "/iiif/3/rgba/full/max/0/default.png")
    assert img.size == (400, 300)
    assert img.mode in ("RGBA", "LA", "P"), f"alpha lost: mode {img.mode}"
    rgba = img.convert("RGBA")
    err_a = mean_abs_diff(rgba.getchannel("A"), src.getchannel("A"), "L")
    # colour only where the source is (nearly) opaque; elsewhere it is undefined
    box = (0, 0, 100, 300)
    err_c = mean_abs_diff(rgba.convert("RGB").crop(box), src.convert("RGB").crop(box))
    report(f"rgba png: alpha mean abs err {err_a:.3f}, colour {err_c:.3f}")
    assert err_a < LOSSLESS and err_c < LOSSLESS


def test_rgba_scaled_alpha(client, images, report):
    src = Image.open(images / "rgba.png").convert("RGBA")
    img = get_image(client, "/iiif/3/rgba/full/200,/0/default.webp").convert("RGBA")
    assert img.size == (200, 150)
    err = mean_abs_diff(img.getchannel("A"), src.getchannel("A").resize((200, 150), Image.Resampling.LANCZOS), "L")
    report(f"rgba -> webp 200,: alpha mean abs err {err:.3f}")
    assert err < LOSSY


def test_rgba_to_jpg_is_served(client):
    img = get_image(client, "/iiif/3/rgba/full/max/0/default.jpg")
    assert img.size == (400, 300) and img.mode in ("RGB", "L")


def test_gray16_png_source(client, report):
    img = get_image(client, "/iiif/3/gray16/full/max/0/default.png")
    assert img.size == (300, 200)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img8 = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    else:
        assert _is_gray(img), img.mode
        img8 = img.convert("L")
    expected = Image.new("L", (300, 200))
    expected.putdata([(x * 65535 // 299) >> 8 for _ in range(200) for x in range(300)])
    err = mean_abs_diff(img8, expected, "L")
    report(f"gray16 png source ({img.mode}): mean abs err {err:.3f}")
    assert err < 1.5


def test_subfolder_tiff_pixels(client):
    img = get_image(client, "/iiif/3/lax:13410/elife-13410-fig4-v2.tif/full/,1000/0/default.png").convert("RGB")
    assert img.size == (500, 1000)
    assert img.getpixel((100, 100)) == (200, 30, 30)
    assert img.getpixel((400, 900)) == (30, 30, 200)


# ------------------------------------------------------------------------------- limits server


def test_max_respects_limits(limited, pixels_image, report):
    img = get_image(limited, "/iiif/3/pixels/full/max/0/default.png")
    assert img.size[0] in (799, 800) and img.size[1] in (559, 560), img.size
    assert img.size[0] * img.size[1] <= 448000
    err = mean_abs_diff(img, pixels_image.resize((800, 560), Image.Resampling.LANCZOS))
    report(f"limited max -> {img.size}: mean abs err {err:.3f}")
    assert err < RESAMPLED


def test_upscaled_max_respects_limits(limited):
    # rgba.png is 400x300; ^max scales up to the limits: 800x600 by width/height, but maxArea 448000
    # caps the scale at sqrt(448000/120000) = 1.932 -> about 772x579.
    img = get_image(limited, "/iiif/3/rgba/full/^max/0/default.png")
    w, h = img.size
    assert w <= 800 and h <= 600 and w * h <= 448000, img.size
    assert w >= 770 and abs(w / h - 4 / 3) < 0.01, img.size


# ------------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("name", [p.split("/", 1)[1] for p in CORPUS_SMOKE])
def test_corpus_smoke(client, images, images_info, report, name):
    path = images / "corpus" / name
    if not path.is_file():
        pytest.skip("shared corpus not available")
    src = Image.open(path)
    src.seek(0)
    ident = "corpus%2F" + name
    r = client.get(f"/iiif/3/{ident}/info.json")
    assert r.status == 200, r
    info = r.json()
    assert (info["width"], info["height"]) == src.size
    img = get_image(client, f"/iiif/3/{ident}/full/max/0/default.png")
    assert img.size == src.size
    err = mean_abs_diff(to_rgb(img), to_rgb(src))
    report(f"corpus {name}: mean abs err {err:.3f}")
    assert err < LOSSY
    small = get_image(client, f"/iiif/3/{ident}/full/{max(1, src.size[0] // 2)},/90/default.jpg")
    assert small.size[1] == max(1, src.size[0] // 2)
    assert math.isclose(small.size[0], src.size[1] / 2, abs_tol=1.01)
