"""Benchmark: IIIF tile requests served from S3 (moto on 127.0.0.1) versus from local disk, cold and warm.

    .venv/bin/python scripts/bench_sources.py [--tiles 40] [--binary target/release/tessera]

Run `bash scripts/test.sh` first (it builds the release binary and the .venv with moto). Writes a 6144x6144
RGB tiled TIFF (113 MB, 256x256 tiles, uncompressed), uploads it to a fresh bucket, starts Tessera with a
folder source and an S3 source, then requests distinct full-resolution 256x256 tiles as JPEG: "cold" is each
tile's first request (for S3: its bytes fetched by range, the header already cached after the first tile),
"warm" the same tiles again (S3 bytes from the source cache). Prints medians in milliseconds and the bytes
read from S3.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "py"))

from origins import AWS_ENV, S3Server, Tessera, big_image, write_tiled_tiff  # noqa: E402

SIZE, TILE = 6144, 256


def timed(t: Tessera, path: str) -> float:
    t0 = time.perf_counter()
    status, body = t.get(path)
    elapsed = (time.perf_counter() - t0) * 1000
    if status != 200:
        raise SystemExit(f"{path}: {status} {body[:200]!r}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiles", type=int, default=40)
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "tessera"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "disk").mkdir()
        tiff = work / "disk" / "big.tif"
        write_tiled_tiff(tiff, big_image(SIZE, SIZE), TILE)
        s3 = S3Server(work / "moto.log")
        try:
            s3.bucket("bench")
            s3.put_file("bench", "big.tif", tiff)
            config = work / "bench.toml"
            config.write_text(
                f"""
[fetch]
cache_dir = "{work / 'cache'}"
[[sources]]
name = "bucket"
kind = "s3"
bucket = "bench"
endpoint = "{s3.endpoint}"
allow_http = true
[[sources]]
name = "disk"
kind = "folder"
root = "{work / 'disk'}"
[[rules]]
prefix = "s3:"
source = "bucket"
[[rules]]
prefix = "disk:"
source = "disk"
"""
            )
            t = Tessera(Path(args.binary), ["--config", str(config)], work / "tessera.log", env=dict(AWS_ENV, TESSERA_LOG="warn"))
            try:
                rng = random.Random(4)
                per_side = SIZE // TILE
                cells = rng.sample([(x, y) for x in range(per_side) for y in range(per_side)], args.tiles)
                paths = [f"{x * TILE},{y * TILE},{TILE},{TILE}/max/0/default.jpg" for x, y in cells]
                first = {src: timed(t, f"/iiif/3/{src}:big.tif/info.json") for src in ("disk", "s3")}
                results = {}
                for src in ("disk", "s3"):
                    kind = "folder" if src == "disk" else src
                    before = t.bytes_read(kind)
                    cold = [timed(t, f"/iiif/3/{src}:big.tif/{p}") for p in paths]
                    after_cold = t.bytes_read(kind)
                    warm = [timed(t, f"/iiif/3/{src}:big.tif/{p}") for p in paths]
                    results[src] = (cold, warm, after_cold - before, t.bytes_read(kind) - after_cold)
            finally:
                t.stop()
        finally:
            s3.stop()
    print(f"{args.tiles} distinct 256x256 JPEG tiles of a {SIZE}x{SIZE} tiled TIFF (113 MB)")
    print(f"first info.json (open + header): disk {first['disk']:.1f} ms, s3 {first['s3']:.1f} ms")
    print("| source | cold median ms | warm median ms | bytes read cold | bytes read warm |")
    print("|---|---|---|---|---|")
    for src, (cold, warm, bc, bw) in results.items():
        print(f"| {src} | {statistics.median(cold):.1f} | {statistics.median(warm):.1f} | {bc} | {bw} |")


if __name__ == "__main__":
    main()
