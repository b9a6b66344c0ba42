#!/usr/bin/env python3
"""Tessera benchmark: warm (cached) responses against renders, and a mixed workload under overload.

    .venv/bin/python scripts/bench.py            # uses target/release/tessera (build it first)

Starts the release binary on a temporary copy of images/ with a disk cache, drives it over HTTP/1.1
keep-alive connections from threads (stdlib only), and prints medians and ratios as a Markdown table.
Client overhead is included in every figure; compare ratios rather than absolute times across machines.
"""

from __future__ import annotations

import http.client
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("TESSERA_BIN", ROOT / "target" / "release" / "tessera"))
HOST = "127.0.0.1"
IMAGE = "grace-hopper"  # 512x600 JPEG in images/


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Conn:
    def __init__(self, port: int):
        self.c = http.client.HTTPConnection(HOST, port, timeout=120)

    def get(self, path: str) -> tuple[int, float]:
        t = time.perf_counter()
        self.c.request("GET", path)
        r = self.c.getresponse()
        r.read()
        return r.status, time.perf_counter() - t


def start(images: Path, cache: Path, config: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cfg = cache.parent / f"bench-{port}.toml"
    cfg.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["TESSERA_LOG"] = "warn"
    p = subprocess.Popen(
        [str(BIN), "serve", "--images", str(images), "--listen", f"{HOST}:{port}", "--config", str(cfg),
         "--cache-dir", str(cache)],
        stdout=subprocess.DEVNULL, env=env,
    )
    for _ in range(200):
        try:
            if Conn(port).get("/health/ready")[0] == 200:
                return p, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("tessera did not start")


def ms(x: float) -> str:
    return f"{x * 1000:.2f} ms"


def tiles(n: int) -> list[str]:
    out = []
    for i in range(n):
        x, y = (i * 37) % 384, (i * 53) % 472
        out.append(f"/iiif/3/{IMAGE}/{x},{y},128,128/{64 + i % 64},/0/default.jpg")
    return out


def run(parallel: int, seconds: float, pick, port: int) -> list[tuple[str, int, float]]:
    """`parallel` clients each looping `pick(rng)` requests for `seconds`; returns (kind, status, latency)."""
    out: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(seed: int):
        rng = random.Random(seed)
        conn = Conn(port)
        mine = []
        while time.perf_counter() < stop:
            kind, path = pick(rng)
            status, dt = conn.get(path)
            mine.append((kind, status, dt))
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main() -> None:
    if not BIN.is_file():
        raise SystemExit(f"{BIN} not found: cargo build --release -p tessera")
    work = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    images = work / "images"
    shutil.copytree(ROOT / "images", images)
    rows = []
    try:
        # 1. Distinct URLs rendered the first time (miss: render + cache write), then served warm.
        p, port = start(images, work / "cache1", "[cache]\nmemory_max_entry_bytes = 262144\n")
        try:
            c = Conn(port)
            paths = tiles(300)
            cold = [c.get(u)[1] for u in paths]  # first time each: render + cache write
            warm = [c.get(u)[1] for u in paths for _ in range(3)]  # memory tier
            bigs = [f"/iiif/3/{IMAGE}/full/{w},/0/default.png" for w in range(490, 512)]
            big_cold = statistics.median(c.get(u)[1] for u in bigs)
            big_warm = statistics.median(c.get(u)[1] for u in bigs for _ in range(5))
            rows.append(("128 px tile, rendered (miss), sequential", ms(statistics.median(cold)), "1"))
            rows.append(("128 px tile, warm (memory hit), sequential", ms(statistics.median(warm)),
                         f"{statistics.median(cold) / statistics.median(warm):.1f}x faster"))
            rows.append(("~500x600 PNG, rendered (miss), sequential", ms(big_cold), "1"))
            rows.append(("~500x600 PNG, warm (disk hit), sequential", ms(big_warm), f"{big_cold / big_warm:.1f}x faster"))
            res = run(8, 5, lambda rng: ("tile", rng.choice(paths)), port)
            lat = [d for _, s, d in res if s == 200]
            rows.append((f"warm tiles, 8 clients: {len(res) / 5:.0f} req/s", ms(statistics.median(lat)), ""))
        finally:
            p.terminate()
            p.wait()

        # 2. Mixed workload under overload: 16 clients, 1 in 4 requests a distinct uncached full-size
        #    rotated render, the rest warm tiles; 2 render slots, 2 places in the queue.
        p, port = start(images, work / "cache2",
                        "[limits]\nmax_concurrent_decodes = 2\nmax_queued_decodes = 2\nqueue_timeout_secs = 0.5\n")
        try:
            c = Conn(port)
            paths = tiles(200)
            for u in paths:
                c.get(u)
            base = run(16, 5, lambda rng: ("tile", rng.choice(paths)), port)
            alone = statistics.median(d for _, st, d in base if st == 200)
            counter = iter(range(10**9))

            def pick(rng):
                if rng.random() < 0.25:
                    # A rotation never asked before: always a real render, never a cache hit.
                    return "render", f"/iiif/3/{IMAGE}/full/max/{(next(counter) + 1) * 0.001:.3f}/default.png"
                return "tile", rng.choice(paths)

            res = run(16, 10, pick, port)
            t = [d for k, s, d in res if k == "tile" and s == 200]
            r_ok = [d for k, s, d in res if k == "render" and s == 200]
            r_503 = [1 for k, s, _ in res if k == "render" and s == 503]
            t_bad = [1 for k, s, _ in res if k == "tile" and s != 200]
            renders = len(r_ok) + len(r_503)
            rows.append((f"warm tile, 16 clients, tiles only ({len(base) / 5:.0f} req/s)", ms(alone), "1"))
            rows.append((f"warm tile, 16 clients, 1 in 4 requests a new full-size render ({len(t)} ok, {len(t_bad)} failed)",
                         ms(statistics.median(t)), f"{statistics.median(t) / alone:.2f}x"))
            rows.append((f"  p95 warm tile under overload", ms(statistics.quantiles(t, n=20)[18]), ""))
            rows.append((f"rotated full-size renders: {len(r_ok)} done, {len(r_503)} of {renders} got 503",
                         ms(statistics.median(r_ok)) if r_ok else "-", ""))
        finally:
            p.terminate()
            p.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nmachine: {os.cpu_count()} CPUs, {platform()}")
    print("| measurement | median | ratio |\n|---|---|---|")
    for name, median, ratio in rows:
        print(f"| {name} | {median} | {ratio} |")


def platform() -> str:
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{model}, Python {sys.version.split()[0]}"


if __name__ == "__main__":
    main()
