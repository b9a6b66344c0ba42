"""Work that stops when its time is up: a render whose client hangs up, or whose request runs past
the time limit, is abandoned within a second or two (its decode slot and memory returned), while
tile requests sent meanwhile are answered.

Each heavy request here would run for many seconds if it were not cancelled (a full-size PNG and an
upscaled PNG of an 80-megapixel JPEG); the server is given generous output limits so that these
requests are admitted, not refused.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import HOST, Server, build_images
from ops_helpers import metric, write_config

BIG_W, BIG_H = 10_000, 8_000


def _big_jpeg(path: Path) -> None:
    """An 80-megapixel JPEG with detail everywhere (so it neither decodes nor compresses trivially)."""
    y, x = np.mgrid[0:BIG_H, 0:BIG_W].astype(np.uint32)
    rgb = np.stack([(x * 7 + y) % 256, (x ^ y) % 256, (x * y // 97) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(rgb, "RGB").save(path, quality=90)


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cancel")
    root = tmp / "images"
    build_images(root, tmp / "outside")
    _big_jpeg(root / "huge.jpg")
    cfg = write_config(
        tmp / "cancel.toml",
        """
[limits]
max_area = 2000000000
max_scale = 4.0
max_pixels_in_flight = 2000000000
request_timeout_secs = 3.0
max_concurrent_decodes = 4
# The direct render is what is cancelled here; a pyramid build on first touch is not (see
# test_pyramid_first_touch.py).
[pyramid]
enabled = false
""",
    )
    server = Server(root, ["--config", str(cfg)], tmp / "cancel.log")
    yield server
    server.stop()


def _in_flight(client) -> float:
    return metric(client, "tessera_decodes_in_flight")


def _wait_idle(client, within: float) -> float:
    """Seconds until no decode runs, failing after `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if _in_flight(client) == 0:
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"a decode was still running {within} s later")


def _wait_busy(client, within: float = 10.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if _in_flight(client) >= 1:
            return
        time.sleep(0.02)
    pytest.fail("the heavy render never started")


class _Tiles(threading.Thread):
    """Requests small tiles until stopped, recording every status."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.statuses: list[int] = []
        self.stop = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            x = (i % 3) * 256
            r = self.client.get(f"/iiif/3/pixels/{x},0,256,256/256,/0/default.jpg", timeout=10)
            self.statuses.append(r.status)
            i += 1


def _send_and_hang_up(port: int, path: str, after: float) -> None:
    s = socket.create_connection((HOST, port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    time.sleep(after)
    s.close()


@pytest.mark.parametrize(
    "path",
    [
        "/iiif/3/huge/full/max/0/default.png",
        "/iiif/3/huge/full/^pct:200/0/default.png",
    ],
)
def test_a_render_whose_client_hangs_up_stops(slow_server, path, report):
    client = slow_server.client
    _wait_idle(client, 30)
    tiles = _Tiles(client)
    tiles.start()
    hang_up = threading.Thread(target=_send_and_hang_up, args=(slow_server.port, path, 1.5))
    hang_up.start()
    _wait_busy(client)
    hang_up.join()
    stopped = _wait_idle(client, 2.5)
    tiles.stop.set()
    tiles.join()
    report(f"cancellation: {path} stopped {stopped:.2f} s after its client hung up")
    assert tiles.statuses and all(s == 200 for s in tiles.statuses), tiles.statuses
    assert slow_server.alive()
    # The slot it held is free again: a new render of the same image is served.
    r = client.get("/iiif/3/huge/full/,200/0/default.jpg", timeout=30)
    assert r.status == 200, r


def test_a_render_past_the_time_limit_stops(slow_server, report):
    client = slow_server.client
    _wait_idle(client, 30)
    tiles = _Tiles(client)
    tiles.start()
    started = time.monotonic()
    r = client.get("/iiif/3/huge/full/^pct:200/0/default.png", timeout=30)
    answered = time.monotonic() - started
    assert r.status == 503, r
    assert r.header("Retry-After")
    assert answered < 3.0 + 1.0, answered
    stopped = _wait_idle(client, 2.5)
    tiles.stop.set()
    tiles.join()
    report(f"cancellation: a render past its 3 s limit answered 503 in {answered:.2f} s, stopped {stopped:.2f} s later")
    assert tiles.statuses and all(s == 200 for s in tiles.statuses), tiles.statuses
    assert metric(client, "tessera_rejected_total", reason="timeout") >= 1


def test_one_client_leaving_does_not_cancel_the_render_for_another(slow_server):
    """Two identical requests share one render; the first hanging up leaves the second its answer."""
    client = slow_server.client
    _wait_idle(client, 30)
    path = "/iiif/3/huge/full/1200,/0/default.png"
    results: list = []
    waiter = threading.Thread(target=lambda: results.append(client.get(path, timeout=30)))
    leaver = threading.Thread(target=_send_and_hang_up, args=(slow_server.port, path, 0.3))
    leaver.start()
    time.sleep(0.1)
    waiter.start()
    leaver.join()
    waiter.join()
    assert results and results[0].status == 200, results
    assert results[0].image().size == (1200, 960)
