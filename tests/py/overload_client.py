"""Load generators for test_overload.py, run as separate processes (so that their threads do not share
a GIL with the process that measures tile latency). Every loop is bounded by a deadline; everything
goes to 127.0.0.1 (from a chosen 127.0.0.x source address, so the server sees distinct clients).

    python overload_client.py tiles   PORT SOURCE_ADDR SECONDS OUT.json IDENTIFIER WIDTH HEIGHT
    python overload_client.py renders PORT SOURCE_ADDR SECONDS OUT.json IDENTIFIER THREADS
    python overload_client.py reader  PORT SOURCE_ADDR SECONDS OUT.json IDENTIFIER

Each writes a JSON list of [path, status, seconds, retry_after] to OUT.json.
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import threading
import time

HOST = "127.0.0.1"


class Conn:
    """One keep-alive connection from `source`, reopened after errors or a server close."""

    def __init__(self, port: int, source: str):
        self.port, self.source = port, source
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, timeout: float = 120) -> tuple[int, float, str | None]:
        started = time.monotonic()
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout, source_address=(self.source, 0))
            try:
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, time.monotonic() - started, resp.getheader("Retry-After")
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 1:
                    return 0, time.monotonic() - started, None
        return 0, time.monotonic() - started, None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def tiles(port: int, source: str, seconds: float, ident: str, width: int, height: int) -> list:
    """256 px tiles at random positions and scale factors 1, 2, 4, 8, one after another."""
    rng = random.Random(1)
    conn, out = Conn(port, source), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s = rng.choice([1, 2, 4, 8])
        span = 256 * s
        x = rng.randrange(0, max(1, width // span)) * span
        y = rng.randrange(0, max(1, height // span)) * span
        rw, rh = min(span, width - x), min(span, height - y)
        path = f"/iiif/3/{ident}/{x},{y},{rw},{rh}/{-(-rw // s)},/0/default.jpg"
        status, secs, retry = conn.get(path)
        out.append([path, status, secs, retry])
    conn.close()
    return out


def render_paths(ident: str, i: int) -> list[str]:
    """Full-size and upscaled renders of a 10000x7500 image: the first three are within the limits
    (each a distinct size, so nothing is coalesced or cached), the others (every path with `^` or
    `full/full`) over them: maxArea, or WebP's 16383 px."""
    w = 4000 + (i * 7) % 700
    return [
        f"/iiif/3/{ident}/full/{w},/0/default.jpg",
        f"/iiif/3/{ident}/full/max/{i % 360}/default.png",
        f"/iiif/2/{ident}/full/{w - 1},/0/default.gif",
        f"/iiif/3/{ident}/full/^pct:{400 - i % 50}/0/default.jpg",
        f"/iiif/3/{ident}/full/^{40000 + i % 1000},/0/default.gif",
        f"/iiif/2/{ident}/full/full/0/default.tif",
        f"/iiif/3/{ident}/0,0,10000,400/^{16384 + i % 100},/0/default.webp",
    ]


def renders(port: int, source: str, seconds: float, ident: str, threads: int) -> list:
    """`threads` clients in a loop of full-size and upscaled renders; after a 503 each waits a
    little (as a polite crawler would not, but the loop must stay bounded on two cores)."""
    out, lock = [], threading.Lock()
    deadline = time.monotonic() + seconds

    def run(t: int):
        conn, i = Conn(port, source), t * 1000
        while time.monotonic() < deadline:
            paths = render_paths(ident, i)
            path = paths[i % len(paths)]
            i += 1
            status, secs, retry = conn.get(path)
            with lock:
                out.append([path, status, secs, retry])
            if status != 200:
                time.sleep(0.25)
        conn.close()

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    for p in pool:
        p.join()
    return out


def reader(port: int, source: str, seconds: float, ident: str) -> list:
    """A reader's occasional large render (the journal's full/,1000), one at a time."""
    conn, out, i = Conn(port, source), [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        path = f"/iiif/3/{ident}/full/,{1000 - i % 20}/0/default.jpg"
        i += 1
        status, secs, retry = conn.get(path)
        out.append([path, status, secs, retry])
        time.sleep(0.5)
    conn.close()
    return out


def main(argv: list[str]) -> None:
    kind, port, source, seconds, out_path, ident = argv[:6]
    port, seconds = int(port), float(seconds)
    if kind == "tiles":
        result = tiles(port, source, seconds, ident, int(argv[6]), int(argv[7]))
    elif kind == "renders":
        result = renders(port, source, seconds, ident, int(argv[6]))
    elif kind == "reader":
        result = reader(port, source, seconds, ident)
    else:
        raise SystemExit(f"unknown load kind {kind!r}")
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1:])
