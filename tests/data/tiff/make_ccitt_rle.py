"""Writes ccitt_rle_pillow.tif: a 1-bit drawing stored with CCITT modified Huffman (TIFF
compression 2) in strips of 64 rows, by Pillow through libtiff (an independent writer); and the
same drawing as CCITT G3 and G4 (ccitt_g3_pillow.tif, ccitt_g4_pillow.tif). Pillow writes them
BlackIsZero, so their "white" fax runs are black pixels.
Run with the project's venv: python tests/data/tiff/make_ccitt_rle.py"""

from pathlib import Path

from PIL import Image, ImageDraw


def drawing(width: int = 731, height: int = 389) -> Image.Image:
    """Ellipses, lines, stripes of every width from 1 to 40 and text: short and long runs."""
    im = Image.new("1", (width, height), 1)
    d = ImageDraw.Draw(im)
    d.ellipse((20, 10, 700, 370), outline=0, width=9)
    d.line((0, 0, width - 1, height - 1), fill=0, width=3)
    x = 5
    for w in range(1, 41):
        d.rectangle((x, 300, x + w - 1, 380), fill=0)
        x += 2 * w
        if x > width - 45:
            break
    d.rectangle((100, 60, 630, 90), fill=0)
    d.text((120, 150), "CCITT modified Huffman, compression 2", fill=0)
    return im


if __name__ == "__main__":
    for name, compression in [
        ("ccitt_rle_pillow.tif", "tiff_ccitt"),
        ("ccitt_g3_pillow.tif", "group3"),
        ("ccitt_g4_pillow.tif", "group4"),
    ]:
        out = Path(__file__).with_name(name)
        drawing().save(out, compression=compression, tiffinfo={278: 64})
        print(out, out.stat().st_size)
