"""Quick renders (one small stored tile, done on the request's own thread rather than a blocking
one) read only what the page cache holds, so that a cold disk never holds up the threads that
serve every connection: a tile of a file dropped from the page cache is rendered where reads may
wait, with the same pixels, and `tessera_quick_renders_total{outcome}` counts which happened."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import pytest
from PIL import Image

from conftest import VALIDATOR_ID, Server
from ops_helpers import metric, write_config

pyvips = pytest.importorskip("pyvips", reason="pyvips writes the tiled TIFF and reads it back")

QUICK = "tessera_quick_renders_total"
SIDE = 3072
LAST = SIDE - 256


def resident_bytes(path) -> int | None:
    """Bytes of `path` in the page cache (util-linux `fincore`), None when it cannot tell."""
    if not shutil.which("fincore"):
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                         capture_output=True, text=True)
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip().isdigit() else None


def drop_from_page_cache(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def tiled(tmp_path_factory, images):
    root = tmp_path_factory.mktemp("quick")
    (root / f"{VALIDATOR_ID}.png").write_bytes((images / f"{VALIDATOR_ID}.png").read_bytes())
    # Some MB, so that the last tile is far from anything read ahead with the file's headers.
    xyz = pyvips.Image.xyz(SIDE, SIDE)
    r = (xyz[0] * (255 / SIDE)).cast("uchar")
    g = (xyz[1] * (255 / SIDE)).cast("uchar")
    b = pyvips.Image.gaussnoise(SIDE, SIDE, mean=128, sigma=30).cast("uchar")
    image = r.bandjoin([g, b]).copy(interpretation="srgb")
    image.tiffsave(str(root / "tiles.tif"), tile=True, tile_width=256, tile_height=256, compression="jpeg", Q=90)
    config = write_config(root.parent / "quick.toml", "[cache]\nmemory_max_bytes = 0\nmemory_max_entry_bytes = 0\n")
    server = Server(root, ["--config", str(config)], root.parent / "quick.log")
    yield server, root / "tiles.tif"
    server.stop()


def tile(server, x: int, y: int):
    r = server.client.get(f"/iiif/3/tiles/{x},{y},256,256/256,256/0/default.png")
    assert r.status == 200, r.body[:300]
    return Image.open(io.BytesIO(r.body)).convert("RGB")


def assert_shows(got: Image.Image, path, x: int, y: int) -> None:
    want = pyvips.Image.new_from_file(str(path)).crop(x, y, 256, 256)
    want = Image.frombytes("RGB", (256, 256), want.write_to_memory())
    diff = [abs(a - b) for p, q in zip(got.getdata(), want.getdata()) for a, b in zip(p, q)]
    assert sum(diff) / len(diff) < 1.0, sum(diff) / len(diff)


def test_a_tile_in_the_page_cache_is_rendered_at_once(tiled):
    server, path = tiled
    done = metric(server.client, QUICK, outcome="done")
    assert_shows(tile(server, 256, 0), path, 256, 0)
    assert metric(server.client, QUICK, outcome="done") == done + 1
    assert metric(server.client, QUICK, outcome="not_in_memory") == 0


def test_a_tile_not_in_the_page_cache_is_rendered_where_reads_may_wait(tiled):
    server, path = tiled
    tile(server, 0, 0)  # the reader is open and its headers read
    # The disk's read-ahead (megabytes here) may bring the file back in between the drop and the
    # request: a few tries, each checked for its pixels; at least one must find it out of memory.
    waited = 0
    for _ in range(5):
        drop_from_page_cache(path)
        if resident_bytes(path) != 0:
            pytest.skip("this file system keeps the file's pages (tmpfs), or fincore is missing")
        before = metric(server.client, QUICK, outcome="not_in_memory")
        assert_shows(tile(server, LAST, LAST), path, LAST, LAST)
        if metric(server.client, QUICK, outcome="not_in_memory") == before + 1:
            waited += 1
            break
    assert waited, "a tile out of the page cache was read on the request's own thread"
    # Read where it could wait, the tile is in the page cache now: the next time it is quick.
    done = metric(server.client, QUICK, outcome="done")
    assert_shows(tile(server, LAST, LAST), path, LAST, LAST)
    assert metric(server.client, QUICK, outcome="done") == done + 1
    assert server.alive()
