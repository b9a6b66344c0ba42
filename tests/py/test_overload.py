"""The overload test of issue 15: 64 concurrent full-size and upscaled renders of a 75 MP JPEG (one
crawler address) alongside a stream of 256 px tiles (a reader's address) for 60 s, plus a second
reader's occasional `full/,1000`.

What must hold: the tiles' median latency stays within 2x of their unloaded median; renders over the
limits are refused at once (400 for sizes over maxArea or a format's limit, 503 + Retry-After for
over-capacity, the crawler's share of large renders being one at a time); the other reader's large
renders still succeed; the server's peak memory (VmHWM) stays bounded. The numbers are reported.

The load runs in separate processes (tests/py/overload_client.py), so their threads do not share a
GIL with the tile stream; everything is on 127.0.0.1 (source addresses 127.0.0.2-4).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import VALIDATOR_ID, Server
from ops_helpers import metric, write_config

pyvips = pytest.importorskip("pyvips", reason="pyvips generates the 75 MP source")

BIG_W, BIG_H = 10000, 7500
TILES_SIDE = 4096
CLIENT = Path(__file__).with_name("overload_client.py")
CRAWLER, READER, TILE_READER = "127.0.0.3", "127.0.0.4", "127.0.0.2"
LOAD_SECS, UNLOADED_SECS = 60.0, 10.0
# The crawler's requests over the limits (overload_client.render_paths): upscaled, or 2.1 full size.
OVER_LIMITS = ("/^", "/full/full/")


def pattern(w: int, h: int):
    """Gradients in red and green, noise in blue: real work for every codec."""
    xyz = pyvips.Image.xyz(w, h)
    r = (xyz[0] * (255.0 / w)).cast("uchar")
    g = (xyz[1] * (255.0 / h)).cast("uchar")
    b = pyvips.Image.gaussnoise(w, h, mean=128, sigma=30).cast("uchar")
    return r.bandjoin([g, b]).copy(interpretation="srgb")


@pytest.fixture(scope="module")
def load_root(tmp_path_factory, images):
    root = tmp_path_factory.mktemp("overload")
    (root / f"{VALIDATOR_ID}.png").write_bytes((images / f"{VALIDATOR_ID}.png").read_bytes())
    pattern(BIG_W, BIG_H).jpegsave(str(root / "big.jpg"), Q=85)
    pattern(TILES_SIDE, TILES_SIDE).tiffsave(
        str(root / "tiles.tif"), tile=True, tile_width=256, tile_height=256, pyramid=True, compression="deflate"
    )
    return root


def vm_kib(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def spawn(kind: str, port: int, source: str, secs: float, out: Path, *args) -> subprocess.Popen:
    cmd = [sys.executable, str(CLIENT), kind, str(port), source, str(secs), str(out), *map(str, args)]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)


def collect(proc: subprocess.Popen, out: Path, timeout: float) -> list:
    assert proc.wait(timeout=timeout) == 0, f"load process {proc.args} failed"
    return json.loads(out.read_text())


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def test_renders_cannot_starve_tiles(load_root, tmp_path, report):
    cfg = write_config(tmp_path / "overload.toml", "[cache]\nmemory_max_bytes = 0\n")
    s = Server(load_root, ["--config", str(cfg)], tmp_path / "overload.log")
    try:
        port = s.port
        info = s.client.get("/iiif/3/big/info.json").json()
        assert (info["width"], info["height"]) == (BIG_W, BIG_H)
        # The advertised maximum is what max produces: the image's box and the default maxArea.
        assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (BIG_W, BIG_H, 4096 * 4096)
        assert s.client.get("/iiif/3/tiles/info.json").status == 200

        # Unloaded: the tile stream alone.
        out = tmp_path / "tiles-unloaded.json"
        alone = collect(spawn("tiles", port, TILE_READER, UNLOADED_SECS, out, "tiles", TILES_SIDE, TILES_SIDE), out, 120)
        assert alone and all(r[1] == 200 for r in alone), [r for r in alone if r[1] != 200][:5]
        unloaded_p50 = statistics.median(r[2] for r in alone)

        # Loaded: crawler, reader and tiles together.
        outs = {k: tmp_path / f"{k}.json" for k in ("renders", "reader", "tiles")}
        procs = {
            "renders": spawn("renders", port, CRAWLER, LOAD_SECS, outs["renders"], "big", 64),
            "reader": spawn("reader", port, READER, LOAD_SECS, outs["reader"], "big"),
            "tiles": spawn("tiles", port, TILE_READER, LOAD_SECS, outs["tiles"], "tiles", TILES_SIDE, TILES_SIDE),
        }
        peak_rss = 0
        deadline = time.monotonic() + LOAD_SECS + 180
        while any(pr.poll() is None for pr in procs.values()) and time.monotonic() < deadline:
            assert s.alive(), s.log_tail()
            peak_rss = max(peak_rss, vm_kib(s.proc.pid, "VmRSS"))
            time.sleep(0.5)
        results = {k: collect(procs[k], outs[k], 10) for k in procs}
        hwm = vm_kib(s.proc.pid, "VmHWM")
        share_refusals = metric(s.client, "tessera_rejected_total", reason="client_share")
        rejected = {
            r: metric(s.client, "tessera_rejected_total", reason=r)
            for r in ("client_share", "decode_slots", "pixel_budget", "queue_full", "timeout")
        }
        assert s.alive()
    finally:
        s.stop()

    tiles = results["tiles"]
    renders = results["renders"]
    reader = results["reader"]
    loaded_p50 = statistics.median(r[2] for r in tiles)
    by_status: dict[int, list] = {}
    for r in renders:
        by_status.setdefault(r[1], []).append(r)
    over = [r for r in renders if any(m in r[0] for m in OVER_LIMITS)]
    within = [r for r in renders if r not in over]
    refused = by_status.get(503, [])
    reader_ok = sum(1 for r in reader if r[1] == 200)
    report(
        f"overload: tiles p50 {unloaded_p50 * 1000:.1f} ms unloaded ({len(alone)} tiles), "
        f"{loaded_p50 * 1000:.1f} ms loaded ({len(tiles)} tiles, p95 {p([r[2] for r in tiles], 0.95) * 1000:.1f} ms, "
        f"{loaded_p50 / unloaded_p50:.2f}x)"
    )
    report(
        f"overload: crawler {len(renders)} renders: "
        + ", ".join(f"{k}: {len(v)}" for k, v in sorted(by_status.items()))
        + f"; 400 p50 {p([r[2] for r in by_status.get(400, [[0, 0, 0]])], 0.5) * 1000:.1f} ms, "
        f"503 p50 {p([r[2] for r in refused or [[0, 0, 0]]], 0.5) * 1000:.1f} ms; refusals {rejected}"
    )
    report(
        f"overload: reader full/,1000 {reader_ok}/{len(reader)} ok, p50 "
        f"{statistics.median(r[2] for r in reader) * 1000:.0f} ms; server VmHWM {hwm / 1024:.0f} MiB "
        f"(VmRSS peak seen {peak_rss / 1024:.0f} MiB)"
    )

    # Tiles: all served, median within 2x of the unloaded median.
    assert all(r[1] == 200 for r in tiles), [r for r in tiles if r[1] != 200][:5]
    assert loaded_p50 <= 2 * unloaded_p50, (loaded_p50, unloaded_p50)
    # Over-limit sizes: always 400, answered at once (from the plan, no decode).
    assert over and all(r[1] == 400 for r in over), [r for r in over if r[1] != 400][:5]
    assert p([r[2] for r in over], 0.5) < 0.5
    # Within the limits: rendered or refused with 503 + Retry-After, never anything else.
    assert {r[1] for r in within} <= {200, 503}, {r[1] for r in within}
    assert any(r[1] == 200 for r in within), "the crawler got nothing at all"
    assert refused and all(r[3] and int(r[3]) > 0 for r in refused)
    # Its share: one large render at a time; the rest refused at once rather than queued.
    assert share_refusals > 0
    assert p([r[2] for r in refused], 0.5) < 0.5
    # Another reader's large renders still get a slot.
    assert reader and reader_ok >= 0.9 * len(reader), reader
    # Memory stays bounded (the unbounded ^pct:400 alone took 7.1 GB).
    assert hwm < 2 * 1024 * 1024, f"peak memory {hwm / 1024:.0f} MiB"
