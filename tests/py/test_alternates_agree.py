"""`serve` and `check` see an identifier the same way: for each way a primary object can fail (missing,
corrupt, truncated, unreadable, over the pixel budget) with a good alternate beside it, the server's
answer and the checker's verdict agree, and both come from the alternate. A failing origin, which is
not the object's fault, is answered as a failure by both.

Both run through the one pipeline (`crates/server/src/pipeline`); this test holds them to it from
outside, with the real binary, a folder source and an HTTP origin started here."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from conftest import HOST, Server, tessera_bin
from origins import RangeOrigin

# The primaries are 1200x800; their alternates are half-size JPEG copies in another colour, so the
# answer shows which object gave it.
PRIMARY = (1200, 800)
ALTERNATE = (600, 400)
PRIMARY_RGB = (200, 30, 30)
ALTERNATE_RGB = (30, 60, 210)
# Plain images above this many pixels are refused at open, windowed ones per read.
BUDGET = 2_000_000
NOBODY = 65534


def encoded(fmt: str, size, rgb, **kw) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def tiled_tiff(size, rgb) -> bytes:
    """A tiled TIFF without reduced levels (Pillow cannot write tiles; libvips can)."""
    import pyvips

    image = pyvips.Image.black(*size).new_from_image(list(rgb)).cast("uchar")
    return image.tiffsave_buffer(tile=True, tile_width=256, tile_height=256, pyramid=False)


def primaries() -> dict[str, bytes | None]:
    tiff = encoded("TIFF", PRIMARY, PRIMARY_RGB, compression="tiff_lzw")
    return {
        "missing": None,
        "corrupt": b"II*\x00" + bytes(range(256)) * 8,
        "truncated": tiff[: len(tiff) // 3],
        "unreadable": tiff,  # made unreadable below (mode 000, read by an unprivileged server)
        # 2000x1200 plain: over the budget at open. Tiled 2000x1200: opened, but a whole-image read
        # at full resolution is over the budget.
        "too-large": encoded("TIFF", (2000, 1200), PRIMARY_RGB),
        "over-budget": tiled_tiff((2000, 1200), PRIMARY_RGB),
    }


def drop_privileges():
    """Run as nobody, so that a file of mode 000 really cannot be read (root reads anything)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


@pytest.fixture(scope="module")
def collection():
    # Not under pytest's tmp folder, which only root may enter: the server runs as nobody.
    work = Path(tempfile.mkdtemp(prefix="tessera-agree-"))
    os.chmod(work, 0o777)
    root = work / "images"
    root.mkdir(mode=0o755)
    for kind, data in primaries().items():
        if data is not None:
            (root / f"{kind}.tif").write_bytes(data)
        size = (1000, 600) if kind in ("too-large", "over-budget") else ALTERNATE
        (root / f"{kind}.jpg").write_bytes(encoded("JPEG", size, ALTERNATE_RGB, quality=95))
    for f in root.iterdir():
        os.chmod(f, 0o644)
    os.chmod(root / "unreadable.tif", 0o000)
    origin = RangeOrigin()
    origin.put("web/good.jpg", encoded("JPEG", ALTERNATE, ALTERNATE_RGB, quality=95))
    config = work / "tessera.toml"
    config.write_text(f"""
[limits]
max_source_pixels = {BUDGET}

[fetch]
cache_dir = "{work / 'source-cache'}"
retries = 0

[[sources]]
name = "web"
kind = "http"
url = "{origin.url}"

[[rules]]
prefix = "web:"
source = "web"
alternates = ["web/good.jpg"]

[[rules]]
pattern = '^(.+)\\.tif$'
source = "images"
key = "$1.tif"
alternates = ["$1.jpg"]
""")
    os.chmod(config, 0o644)
    yield work, root, config, origin
    origin.close()
    shutil.rmtree(work, ignore_errors=True)


def run_check(config: Path, root: Path, identifiers: list[str], work: Path) -> dict[str, dict]:
    ids = work / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in identifiers))
    report = work / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    r = subprocess.run(
        [str(tessera_bin()), "check", str(ids), "--config", str(config), "--images", str(root),
         "--report", str(report)],
        capture_output=True, text=True, timeout=120, env=env, preexec_fn=drop_privileges,
    )
    assert report.is_file(), r.stdout + r.stderr
    return {o["identifier"]: o for o in json.loads(report.read_text())}


def mean_rgb(data: bytes) -> tuple[float, float, float]:
    im = Image.open(io.BytesIO(data)).convert("RGB")
    px = list(im.getdata())
    return tuple(sum(p[c] for p in px) / len(px) for c in range(3))


def close(a, b, tol=12.0) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


class NobodyServer(Server):
    """The test server, started unprivileged like the checker."""

    def __init__(self, *args, **kw):
        import conftest

        real = conftest._limit_memory
        conftest._limit_memory = lambda: (real(), drop_privileges())
        try:
            super().__init__(*args, **kw)
        finally:
            conftest._limit_memory = real


@pytest.fixture(scope="module")
def server(collection):
    work, root, config, _ = collection
    s = NobodyServer(root, ["--config", str(config)], work / "server.log",
                     ready_path="/iiif/3/missing.tif/info.json")
    yield s
    s.stop()


KINDS = ["missing", "corrupt", "truncated", "unreadable", "too-large", "over-budget"]


def test_unreadable_primary_really_cannot_be_read(collection):
    _, root, _, _ = collection
    pid = os.fork()
    if pid == 0:
        try:
            drop_privileges()
            open(root / "unreadable.tif", "rb")
        except PermissionError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, "the unreadable primary could be read: the test would prove nothing"


@pytest.mark.parametrize("kind", KINDS)
def test_serve_and_check_agree_when_the_primary_fails(collection, server, kind):
    work, root, config, _ = collection
    identifier = f"{kind}.tif"
    verdict = run_check(config, root, [identifier], work)[identifier]
    info = server.client.get(f"/iiif/3/{identifier}/info.json")
    # The checker renders its sample; the server is asked for that very request.
    assert verdict.get("request"), verdict
    image = server.client.get(f"/iiif/3/{identifier}/{verdict['request']}")
    assert (info.status, image.status) == (200, 200), (kind, info.status, image.status, image.body[:200], server.log_tail())
    assert verdict["status"] == "ok", (kind, verdict)
    doc = json.loads(info.body)
    # Both describe the same object, and both render from the alternate.
    assert (doc["width"], doc["height"]) == (verdict["width"], verdict["height"]), (kind, doc, verdict)
    out = Image.open(io.BytesIO(image.body))
    assert out.size == (verdict["output_width"], verdict["output_height"]), kind
    assert close(mean_rgb(image.body), ALTERNATE_RGB), (kind, mean_rgb(image.body))


def test_a_failing_origin_is_a_failure_for_both(collection, server):
    work, root, config, origin = collection
    # The origin answers 503 for the primary: not the object's fault, so no alternate stands in.
    origin.put("web/down.tif", encoded("TIFF", PRIMARY, PRIMARY_RGB))
    origin.fail("web/down.tif", 10_000)
    identifier = "web:web/down.tif"
    verdict = run_check(config, root, [identifier], work)[identifier]
    info = server.client.get(f"/iiif/3/{identifier.replace('/', '%2F')}/info.json")
    assert verdict["status"] == "error" and verdict["cause"] == "io", verdict
    assert info.status in (502, 504), (info.status, info.body[:200])
