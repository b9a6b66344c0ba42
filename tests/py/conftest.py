"""Fixtures for Tessera's black-box tests: a temporary image root, the real binary on a free port,
and a raw HTTP helper.

The binary is taken from $TESSERA_BIN (scripts/test.sh sets it), else target/release/tessera.
HTTP goes through http.client so that paths are sent byte for byte (requests/urllib3 would
normalise `..` segments and re-encode characters, which the safety tests must not have happen).
"""

from __future__ import annotations

import functools
import http.client
import io
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[2]
# The shared corpus: TESSERA_CORPUS (scripts/test.sh sets it), else shared/corpus beside the repository.
CORPUS = Path(os.environ.get("TESSERA_CORPUS") or REPO_ROOT.parent / "shared" / "corpus")
VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"
HOST = "127.0.0.1"

# Sizes of the generated images (the tests compute expected values from these).
PIX_W, PIX_H = 1000, 700
SECRET_MARKER = b"TESSERA-SECRET-0f6c2b"

# Corpus files used by the smoke test (copied when ../shared/corpus exists): (corpus path, id).
CORPUS_SMOKE = [
    "tiff/striped_rgb8_lzw__pillow-hopper_lzw.tif",
    "tiff/tiled_rgb8_uncompressed__pillow-tiff_tiled_raw.tif",
    "tiff/pyramid_tiled_deflate_icc_4levels__openslide-boxes.tiff",
    "jpeg/baseline_rgb_photo__matplotlib-grace_hopper.jpg",
    "jpeg/grayscale__pillow-hopper_gray.jpg",
    "png/palette8__pngsuite-basn3p08.png",
    "png/rgba8__pngsuite-basn6a08.png",
    "gif/static__pillow-hopper.gif",
    "webp/lossy__pillow-hopper.webp",
]

# Lines printed at the end of the run (mean errors, validator summaries).
REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if REPORT:
        terminalreporter.section("tessera measurements")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def report():
    """Append a line to the end-of-run summary (also printed immediately for -s runs)."""

    def add(line: str) -> None:
        REPORT.append(line)
        print(line)

    return add


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def header_all(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def image(self) -> Image.Image:
        img = Image.open(io.BytesIO(self.body))
        img.load()
        return img

    def __repr__(self) -> str:  # shows up in assertion messages
        ct = self.headers.get("Content-Type")
        return f"<{self.status} {ct} {len(self.body)}B for {self.url}: {self.body[:200]!r}>"


class Client:
    def __init__(self, port: int):
        self.port = port
        self.base = f"http://{HOST}:{port}"

    def request(self, path: str, method: str = "GET", headers: dict | None = None, timeout: float = 30) -> Response:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            headers = dict(headers or {})
            has_host = any(k.lower() == "host" for k in headers)
            conn.putrequest(method, path, skip_host=has_host, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read()
            return Response(resp.status, resp.headers, body, self.base + path)
        finally:
            conn.close()

    def get(self, path: str, headers: dict | None = None, timeout: float = 30) -> Response:
        return self.request(path, "GET", headers, timeout)

    def head(self, path: str, headers: dict | None = None) -> Response:
        return self.request(path, "HEAD", headers)

    def options(self, path: str, headers: dict | None = None) -> Response:
        return self.request(path, "OPTIONS", headers)


# --------------------------------------------------------------------------------------------
# Images


@functools.lru_cache(maxsize=None)
def _pixels_image() -> Image.Image:
    """1000x700 RGB: four distinct quadrant colours blended with smooth gradients, plus known marks
    (a white block, a black block, a small magenta square near the top-left corner)."""
    w, h = PIX_W, PIX_H
    img = Image.new("RGB", (w, h))
    quad = {(0, 0): (200, 40, 40), (1, 0): (40, 180, 60), (0, 1): (40, 60, 200), (1, 1): (220, 200, 40)}
    px = img.load()
    for y in range(h):
        for x in range(w):
            qr, qg, qb = quad[(x * 2 // w, y * 2 // h)]
            gx = x * 50 // w
            gy = y * 50 // h
            px[x, y] = (min(255, qr + gx), min(255, qg + gy), max(0, qb - gx))
    d = ImageDraw.Draw(img)
    d.rectangle([600, 100, 699, 199], fill=(255, 255, 255))  # white block (top-right quadrant)
    d.rectangle([300, 450, 399, 549], fill=(0, 0, 0))  # black block (bottom-left quadrant)
    d.rectangle([20, 20, 59, 59], fill=(255, 0, 255))  # magenta mark near top-left
    return img


def make_pixels_image() -> Image.Image:
    return _pixels_image().copy()


def make_validator_image() -> Image.Image:
    """Stand-in for the validator's test image: 10x10 squares of 100 px in its colour table."""
    from iiif_validator.validator import ValidationInfo

    colors = ValidationInfo().colorInfo
    img = Image.new("RGB", (1000, 1000))
    d = ImageDraw.Draw(img)
    for x in range(10):
        for y in range(10):
            d.rectangle([x * 100, y * 100, x * 100 + 99, y * 100 + 99], fill=colors[x][y])
    return img


def make_rgba_image() -> Image.Image:
    """400x300 RGBA: colour gradient, alpha ramping left (opaque) to right (transparent)."""
    img = Image.new("RGBA", (400, 300))
    px = img.load()
    for y in range(300):
        for x in range(400):
            px[x, y] = (x * 255 // 399, y * 255 // 299, 128, 255 - x * 255 // 399)
    return img


def make_gray16_image() -> Image.Image:
    """300x200 16-bit grayscale PNG source: horizontal ramp over the full 16-bit range."""
    img = Image.new("I;16", (300, 200))
    px = img.load()
    for y in range(200):
        for x in range(300):
            px[x, y] = (x * 65535) // 299
    return img


def build_images(root: Path, outside: Path) -> dict:
    """Fill `root` with the test images, and `outside` with files that must never be served."""
    root.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    info: dict = {}

    # The validator image: the repo's own copy, else the shared corpus, else a generated stand-in.
    for cand in (REPO_ROOT / "images" / f"{VALIDATOR_ID}.png", CORPUS / "iiif-validator" / f"{VALIDATOR_ID}.png"):
        if cand.is_file():
            shutil.copy(cand, root / f"{VALIDATOR_ID}.png")
            info["validator_source"] = str(cand)
            break
    else:
        make_validator_image().save(root / f"{VALIDATOR_ID}.png")
        info["validator_source"] = "generated"

    pix = make_pixels_image()
    pix.save(root / "pixels.png")
    pix.save(root / "pixels-striped.tif", compression="tiff_lzw")  # Pillow writes ~64 KiB strips
    pix.save(root / "photo.jpg", quality=95)
    pix.convert("L").save(root / "gray.tif")
    pix.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(root / "palette.tif")
    make_rgba_image().save(root / "rgba.png")
    make_gray16_image().save(root / "gray16.png")
    Image.new("RGB", (500, 500), (10, 120, 230)).save(root / "with space.png")

    # Sub-folder with a ':' in its name, as in `lax:13410/elife-13410-fig4-v2.tif`.
    sub = root / "lax:13410"
    sub.mkdir()
    fig = Image.new("RGB", (600, 1200), (250, 250, 250))
    d = ImageDraw.Draw(fig)
    d.rectangle([0, 0, 299, 599], fill=(200, 30, 30))
    d.rectangle([300, 600, 599, 1199], fill=(30, 30, 200))
    fig.save(sub / "elife-13410-fig4-v2.tif")

    # Two files with the same stem: `dup` is ambiguous.
    Image.new("RGB", (64, 64), (0, 255, 0)).save(root / "dup.png")
    Image.new("RGB", (64, 64), (0, 0, 255)).save(root / "dup.jpg")

    # Outside the root: a secret image and text; symlinks to them from inside the root.
    secret = Image.new("RGB", (77, 33), (1, 2, 3))
    secret.save(outside / "secret.png")
    (outside / "secret.txt").write_bytes(SECRET_MARKER + b"\n")
    (outside / "secret.png.txt").write_bytes(SECRET_MARKER + b"\n")
    os.symlink(outside / "secret.png", root / "link-out.png")
    os.symlink(outside, root / "linkdir")
    info["outside"] = outside

    # Broken images: the corpus ones when available, plus a few generated.
    broken = root / "broken"
    broken.mkdir()
    good = io.BytesIO()
    pix.save(good, format="PNG")
    (broken / "gen-truncated.png").write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    (broken / "gen-garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50)
    (broken / "gen-empty.tif").write_bytes(b"")
    if (CORPUS / "broken").is_dir():
        for f in sorted((CORPUS / "broken").iterdir()):
            if f.is_file():
                shutil.copy(f, broken / f.name)

    # A few real-world files for the corpus smoke test.
    smoke = []
    if CORPUS.is_dir():
        (root / "corpus").mkdir()
        for rel in CORPUS_SMOKE:
            src = CORPUS / rel
            if src.is_file():
                dst = root / "corpus" / src.name
                shutil.copy(src, dst)
                smoke.append(dst)
    info["smoke"] = smoke
    return info


# --------------------------------------------------------------------------------------------
# Server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tessera_bin() -> Path:
    p = Path(os.environ.get("TESSERA_BIN", REPO_ROOT / "target" / "release" / "tessera"))
    if not p.is_absolute():
        p = REPO_ROOT / p
    return p


def _limit_memory():
    # Keep a runaway decode (decompression bombs) from taking the machine down: 8 GiB address space.
    lim = 8 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))


class Server:
    def __init__(self, images: Path, args: list[str], log: Path, ready_path: str = f"/iiif/3/{VALIDATOR_ID}/info.json"):
        self.images = images
        self.ready_path = ready_path
        self.port = free_port()
        self.args = args
        self.log_path = log
        binary = tessera_bin()
        if not binary.is_file():
            pytest.fail(f"tessera binary not found at {binary} (build it, or set TESSERA_BIN)", pytrace=False)
        cmd = [str(binary), "serve", "--images", str(images), "--listen", f"{HOST}:{self.port}", *args]
        self.cmd = cmd
        self.log = open(log, "wb")
        # The server reads TESSERA_<SECTION>_<KEY> overrides from the environment (and rejects
        # unknown ones such as TESSERA_BIN): start it with none, so only the flags above count.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        self.proc = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=_limit_memory
        )
        self.client = Client(self.port)
        self._wait_ready()

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_ready(self, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"tessera exited with {self.proc.returncode} before it was ready: {self.cmd}\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                r = self.client.get(self.ready_path, timeout=2)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"tessera not ready after {timeout}s (last: {last!r}): {self.cmd}\n{self.log_tail()}", pytrace=False)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("tessera")
    root = base / "images"
    info = build_images(root, base / "outside")
    # A sibling whose name starts with the root's name (catches prefix-only containment checks).
    sib = base / "images-sibling"
    sib.mkdir()
    (sib / "secret.png.txt").write_bytes(SECRET_MARKER)
    Image.new("RGB", (55, 44), (3, 2, 1)).save(sib / "secret.png")
    info["sibling"] = sib
    return root, info


@pytest.fixture(scope="session")
def images(image_root) -> Path:
    return image_root[0]


@pytest.fixture(scope="session")
def images_info(image_root) -> dict:
    return image_root[1]


@pytest.fixture(scope="session")
def server(image_root, tmp_path_factory):
    """The main server: default settings, upscaling limit given explicitly."""
    s = Server(image_root[0], ["--max-scale", "4"], tmp_path_factory.mktemp("log") / "tessera.log")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def client(server) -> Client:
    return server.client


LIMITS = {"maxWidth": 800, "maxHeight": 600, "maxArea": 448000}
PUBLIC_BASE = "https://images.example.org"


@pytest.fixture(scope="session")
def limited_server(image_root, tmp_path_factory):
    """A second server with size limits and a public base URL."""
    s = Server(
        image_root[0],
        [
            "--max-width", str(LIMITS["maxWidth"]),
            "--max-height", str(LIMITS["maxHeight"]),
            "--max-area", str(LIMITS["maxArea"]),
            "--max-scale", "4",
            "--public-base-url", PUBLIC_BASE,
        ],
        tmp_path_factory.mktemp("log") / "tessera-limited.log",
    )
    yield s
    s.stop()


@pytest.fixture(scope="session")
def limited(limited_server) -> Client:
    return limited_server.client


@pytest.fixture(scope="session")
def trusted_server(image_root, tmp_path_factory):
    """A server that believes forwarded headers from 127.0.0.1 (as behind a local Nginx)."""
    d = tmp_path_factory.mktemp("trusted")
    cfg = d / "trusted.toml"
    cfg.write_text('[server]\ntrusted_proxies = ["127.0.0.1", "::1"]\n')
    s = Server(image_root[0], ["--config", str(cfg), "--max-scale", "4"], d / "tessera-trusted.log")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def trusted(trusted_server) -> Client:
    return trusted_server.client


@pytest.fixture(scope="session")
def pixels_image() -> Image.Image:
    return make_pixels_image()


def python_bin_dir() -> Path:
    return Path(sys.executable).parent
