"""Real servers for the source tests and the source benchmark: an HTTP origin honouring Range (with
injectable failures and stalls), an S3-compatible server (moto, as a subprocess), Tessera started on a
config, and a writer of large tiled TIFFs.

Nothing here mocks a protocol: Tessera talks HTTP to these servers over 127.0.0.1, signing its S3
requests as it would against AWS.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "tessera-test",
    "AWS_SECRET_ACCESS_KEY": "tessera-test-secret",
    "AWS_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


# --------------------------------------------------------------------------------------------
# HTTP origin


class RangeOrigin:
    """A threaded HTTP/1.1 server of in-memory files with ETag, Last-Modified, HEAD, Range and If-Match.
    `fail(path, n)` answers the next n requests for path with a 503; `stall(path, s)` holds each request
    for s seconds before answering. Every request is recorded in `hits`."""

    def __init__(self):
        self.files: dict[str, tuple[bytes, str, str]] = {}
        self.failures: dict[str, int] = {}
        self.stalls: dict[str, float] = {}
        self.hits: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                origin._answer(self, head=True)

            def do_GET(self):
                origin._answer(self, head=False)

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{HOST}:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path: str, data: bytes) -> None:
        etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
        modified = email.utils.formatdate(time.time(), usegmt=True)
        with self.lock:
            self.files[path] = (data, etag, modified)

    def fail(self, path: str, times: int) -> None:
        with self.lock:
            self.failures[path] = times

    def stall(self, path: str, seconds: float) -> None:
        with self.lock:
            self.stalls[path] = seconds

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for _, p, _ in self.hits if p == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(h.path).path).lstrip("/")
        with self.lock:
            self.hits.append((h.command, path, h.headers.get("Range")))
            stall = self.stalls.get(path, 0.0)
            failing = self.failures.get(path, 0) > 0
            if failing:
                self.failures[path] -= 1
            entry = self.files.get(path)
        if stall:
            time.sleep(stall)
        if failing:
            return self._send(h, 503, b"origin overloaded\n", {}, head)
        if entry is None:
            return self._send(h, 404, b"not found\n", {}, head)
        data, etag, modified = entry
        headers = {"ETag": etag, "Last-Modified": modified, "Accept-Ranges": "bytes"}
        if_match = h.headers.get("If-Match")
        if if_match and if_match not in ("*", etag):
            return self._send(h, 412, b"precondition failed\n", {}, head)
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            size = len(data)
            if first == "":
                start, end = max(0, size - int(last)), size - 1
            else:
                start, end = int(first), min(size - 1, int(last)) if last else size - 1
            if start >= size or start > end:
                return self._send(h, 416, b"", {"Content-Range": f"bytes */{size}"}, head)
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return self._send(h, 206, data[start : end + 1], headers, head)
        return self._send(h, 200, data, headers, head)

    @staticmethod
    def _send(h, status: int, body: bytes, headers: dict, head: bool) -> None:
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if not head:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


# --------------------------------------------------------------------------------------------
# S3 (moto)


class S3Server:
    """moto's S3-compatible server on a free port, as a subprocess, with a boto3 client for filling it."""

    def __init__(self, log: Path):
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc)
        import boto3  # installed with moto

        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS_ENV["AWS_REGION"],
        )

    def bucket(self, name: str) -> None:
        self.client.create_bucket(Bucket=name)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.client.upload_file(str(path), bucket, key)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --------------------------------------------------------------------------------------------
# Tessera


class Tessera:
    """The real binary on a free port with `args` (e.g. --config FILE or --images URL) and `env` added to
    a clean environment; ready when /metrics answers."""

    def __init__(self, binary: Path, args: list[str], log: Path, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = log
        self.log = open(log, "wb")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AWS_"))}
        clean.update(env or {})
        clean.setdefault("TESSERA_LOG", "info")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"{HOST}:{self.port}", *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tessera exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if self.get("/metrics", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tessera not ready:\n{self.log_text()}")
            time.sleep(0.1)

    def get(self, path: str, timeout: float = 60) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def bytes_read(self, kind: str) -> int:
        status, body = self.get("/metrics")
        assert status == 200
        prefix = f'tessera_source_bytes_read_total{{kind="{kind}"}} '
        for line in body.decode().splitlines():
            if line.startswith(prefix):
                return int(float(line[len(prefix) :]))
        return 0

    def metrics(self) -> str:
        return self.get("/metrics")[1].decode()

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --------------------------------------------------------------------------------------------
# Big tiled TIFF


def big_image(width: int, height: int):
    """An RGB image with structure everywhere (gradients and noise), built by Pillow in C."""
    from PIL import Image

    r = Image.linear_gradient("L").resize((width, height))
    g = Image.radial_gradient("L").resize((width, height))
    b = Image.effect_noise((width, height), 60)
    return Image.merge("RGB", (r, g, b))


def write_tiled_tiff(path: Path, image, tile: int = 256) -> int:
    """Write `image` (RGB) as an uncompressed, tiled, little-endian TIFF; returns the file size.
    Layout: header, one IFD, the tile tables, then the tiles, so a reader needs the head of the file
    and then only the tiles it wants."""
    width, height = image.size
    across, down = -(-width // tile), -(-height // tile)
    count = across * down
    tile_bytes = tile * tile * 3
    entries = 11
    ifd_at = 8
    ifd_size = 2 + entries * 12 + 4
    bits_at = ifd_at + ifd_size
    offsets_at = bits_at + 6
    counts_at = offsets_at + 4 * count
    data_at = counts_at + 4 * count
    tags = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 3, bits_at),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (277, 3, 1, 3),
        (284, 3, 1, 1),
        (322, 3, 1, tile),
        (323, 3, 1, tile),
        (324, 4, count, offsets_at),
        (325, 4, count, counts_at),
    ]
    with open(path, "wb") as f:
        f.write(b"II*\0" + struct.pack("<I", ifd_at))
        f.write(struct.pack("<H", entries))
        for tag, typ, n, value in tags:
            packed = struct.pack("<HH", value, 0) if typ == 3 and n == 1 else struct.pack("<I", value)
            f.write(struct.pack("<HHI", tag, typ, n) + packed)
        f.write(struct.pack("<I", 0))
        f.write(struct.pack("<HHH", 8, 8, 8))
        f.write(struct.pack(f"<{count}I", *(data_at + i * tile_bytes for i in range(count))))
        f.write(struct.pack(f"<{count}I", *([tile_bytes] * count)))
        for ty in range(down):
            for tx in range(across):
                box = (tx * tile, ty * tile, tx * tile + tile, ty * tile + tile)
                f.write(image.crop(box).tobytes())
        return f.tell()
