"""The HTTP face a public server can afford (issue 15): slow and half-open clients are cut off, a
connection flood is refused without piling up, forwarded headers are believed only from trusted
proxies, ids that come from request headers are named in Vary, and every response says nosniff."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import HOST, VALIDATOR_ID, Server
from ops_helpers import metric, write_config

INFO = f"/iiif/3/{VALIDATOR_ID}/info.json"
TILE = f"/iiif/3/{VALIDATOR_ID}/0,0,100,100/50,/0/default.jpg"

HEADER_TIMEOUT = 1.0
IDLE_TIMEOUT = 4.0
MAX_CONNECTIONS = 40


@pytest.fixture(scope="module")
def guarded(images, tmp_path_factory):
    """A server with short connection timeouts and a small connection limit."""
    d = tmp_path_factory.mktemp("guarded")
    cfg = write_config(
        d / "guarded.toml",
        f"[server]\nheader_read_timeout_secs = {HEADER_TIMEOUT}\nidle_timeout_secs = {IDLE_TIMEOUT}\n"
        f"max_connections = {MAX_CONNECTIONS}\n",
    )
    s = Server(images, ["--config", str(cfg)], d / "guarded.log")
    yield s
    s.stop()


def connect(port: int) -> socket.socket:
    s = socket.create_connection((HOST, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` (EOF or reset) within `within` seconds (reading any answer)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ------------------------------------------------------------------------------------ slow clients


def test_slow_loris_connections_are_cut_off_while_normal_requests_are_served(guarded):
    c = guarded.client
    before = metric(c, "tessera_connections_expired_total", reason="header_timeout")
    slow = [connect(guarded.port) for _ in range(10)]
    stop = threading.Event()
    cut = [False] * len(slow)

    def dribble(i: int, s: socket.socket):
        # A request head, one byte every 0.2 s: never complete within the header timeout.
        head = f"GET {INFO} HTTP/1.1\r\nHost: x\r\nX-Padding: {'a' * 200}\r\n\r\n".encode()
        for b in head:
            if stop.is_set():
                return
            try:
                s.send(bytes([b]))
            except OSError:
                cut[i] = True
                return
            time.sleep(0.2)

    threads = [threading.Thread(target=dribble, args=(i, s), daemon=True) for i, s in enumerate(slow)]
    for t in threads:
        t.start()
    # Meanwhile ordinary requests are answered.
    for _ in range(5):
        r = c.get(INFO, timeout=5)
        assert r.status == 200, r
    try:
        for i, s in enumerate(slow):
            cut[i] = cut[i] or closed_by_server(s, within=HEADER_TIMEOUT + 5)
    finally:
        stop.set()
        for s in slow:
            s.close()
    assert all(cut), f"{cut.count(False)} of {len(cut)} slow connections were kept"
    # The server counts a connection once its task has ended, just after the socket closes: give
    # the last ones a moment on a loaded machine.
    deadline = time.monotonic() + 5
    while metric(c, "tessera_connections_expired_total", reason="header_timeout") < before + len(slow):
        assert time.monotonic() < deadline, "expired connections were not all counted"
        time.sleep(0.1)
    assert c.get(INFO).status == 200


def test_half_open_connections_are_closed_after_the_header_timeout(guarded):
    silent = [connect(guarded.port) for _ in range(10)]
    try:
        assert all(closed_by_server(s, within=HEADER_TIMEOUT + 5) for s in silent)
    finally:
        for s in silent:
            s.close()


def test_keep_alive_outlives_the_header_timeout_then_idles_out(guarded):
    s = connect(guarded.port)
    try:
        request = f"GET {INFO} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
        s.sendall(request)
        first = read_response(s)
        assert first.startswith(b"HTTP/1.1 200"), first[:100]
        # Idle for longer than the header timeout but less than the idle timeout: still usable.
        time.sleep(HEADER_TIMEOUT * 2)
        s.sendall(request)
        second = read_response(s)
        assert second.startswith(b"HTTP/1.1 200"), second[:100]
        # Then idle: closed (the client sends nothing more).
        assert closed_by_server(s, within=IDLE_TIMEOUT + 5)
    finally:
        s.close()


def read_response(s: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length body."""
    s.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body


# ------------------------------------------------------------------------------------ connection flood


def test_a_connection_flood_is_refused_and_does_not_stop_service_or_grow_memory(guarded):
    c = guarded.client
    assert c.get(TILE).status == 200
    refused_before = metric(c, "tessera_connections_refused_total")
    rss_before = rss_kib(guarded.proc.pid)
    for _round in range(3):
        flood = []
        for _ in range(600):
            try:
                flood.append(connect(guarded.port))
            except OSError:
                break
        assert len(flood) >= MAX_CONNECTIONS * 5, "could not open enough connections to test the limit"
        # Beyond the limit, connections are closed at once, not queued.
        extra = flood[-50:]
        assert sum(closed_by_server(s, within=3) for s in extra) == len(extra)
        for s in flood:
            s.close()
    # Once the flood ends, normal requests are served again (the held ones expire after the header timeout).
    deadline = time.monotonic() + HEADER_TIMEOUT + 10
    while True:
        try:
            r = c.get(TILE, timeout=5)
            if r.status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server did not recover from the flood"
        time.sleep(0.2)
    assert guarded.alive()
    refused = metric(c, "tessera_connections_refused_total") - refused_before
    # Most of the 3 x 600 connections found every slot taken (some found one freed by an expired one).
    assert refused >= 3 * (600 - MAX_CONNECTIONS) / 2, refused
    grown_mib = (rss_kib(guarded.proc.pid) - rss_before) / 1024
    assert grown_mib < 64, f"resident memory grew by {grown_mib:.0f} MiB during the flood"
    # The open-connection gauge comes back down.
    deadline = time.monotonic() + HEADER_TIMEOUT + 10
    while metric(c, "tessera_connections_open") > 2:
        assert time.monotonic() < deadline, metric(c, "tessera_connections_open")
        time.sleep(0.2)


# ------------------------------------------------------------------------------------ protocols


def test_http2_prior_knowledge_and_http11_on_one_port(guarded):
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl (with HTTP/2) is needed for this test", pytrace=False)
    url = f"http://{HOST}:{guarded.port}{INFO}"
    for flag, version in [("--http2-prior-knowledge", "2"), ("--http1.1", "1.1")]:
        out = subprocess.run(
            [curl, "-sS", flag, "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"{version} 200", out.stdout


# ------------------------------------------------------------------------------------ forwarded headers


def test_spoofed_forwarded_headers_from_an_untrusted_client_are_ignored(client):
    base = f"http://{HOST}:{client.port}"
    spoofs = [
        {"X-Forwarded-Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        {"Forwarded": 'for=1.2.3.4;host="evil.example";proto=https'},
    ]
    for spoof in spoofs:
        info = client.get(INFO, spoof)
        assert info.status == 200
        assert info.json()["id"] == f"{base}/iiif/3/{VALIDATOR_ID}", spoof
        # ids come from Host: a shared cache must keep hosts apart, and nothing else is varied on.
        assert info.header("Vary") == "Accept, Host"
        moved = client.get(f"/iiif/3/{VALIDATOR_ID}", spoof)
        assert moved.status == 303
        assert moved.header("Location") == f"{base}/iiif/3/{VALIDATOR_ID}/info.json"
        assert "Host" in moved.header("Vary")
        image = client.get(f"/iiif/3/{VALIDATOR_ID}/full/40,/0/default.jpg", spoof)
        assert image.status == 200 and "evil" not in image.header("Link")


def test_a_trusted_proxy_is_believed_and_varied_on(trusted):
    info = trusted.get(INFO, {"X-Forwarded-Host": "iiif.example.org", "X-Forwarded-Proto": "https"})
    assert info.json()["id"] == f"https://iiif.example.org/iiif/3/{VALIDATOR_ID}"
    assert info.header("Vary") == "Accept, Host, Forwarded, X-Forwarded-Host, X-Forwarded-Proto"


def test_a_public_base_url_needs_no_vary_on_host(limited):
    info = limited.get(INFO, {"X-Forwarded-Host": "evil.example"})
    assert info.json()["id"].startswith("https://images.example.org/")
    assert info.header("Vary") == "Accept"


# ------------------------------------------------------------------------------------ nosniff


def test_nosniff_on_every_response(client):
    cases = [
        ("GET", INFO, {}, 200),
        ("GET", TILE, {}, 200),
        ("GET", f"/iiif/3/{VALIDATOR_ID}", {}, 303),
        ("GET", f"/iiif/3/{VALIDATOR_ID}/full/%3Cscript%3Ealert(1)%3C%2Fscript%3E/0/default.jpg", {}, 400),
        ("GET", "/iiif/3/no-such-image/info.json", {}, 404),
        ("GET", "/nothing-here", {}, 404),
        ("GET", "/iiif/3/" + "a" * 5000 + "/info.json", {}, 414),
        ("OPTIONS", INFO, {"Origin": "https://v.example", "Access-Control-Request-Method": "GET"}, 204),
        ("GET", "/health/ready", {}, 200),
        ("GET", "/health/live", {}, 200),
        ("GET", "/metrics", {}, 200),
        ("GET", "/", {}, 200),
        ("POST", "/admin/cache/purge", {}, 404),
    ]
    for method, path, headers, status in cases:
        r = client.request(path, method, headers)
        assert r.status == status, (method, path[:80], r)
        assert r.header("X-Content-Type-Options") == "nosniff", (method, path[:80])
    etag = client.get(TILE).header("ETag")
    nm = client.get(TILE, {"If-None-Match": etag})
    assert nm.status == 304 and nm.header("X-Content-Type-Options") == "nosniff"


# ------------------------------------------------------------------------------------ disk cache on a tiny filesystem

TINY_FS_MIB = 4


@pytest.fixture
def tiny_fs(tmp_path):
    """A 4 MiB tmpfs (needs root: mounting is the only honest way to get a small filesystem here)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; the free-space logic is unit-tested in cache/disk.rs")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TINY_FS_MIB}m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("reserve", [0, 512 * 1024])
def test_a_disk_cache_larger_than_its_filesystem_evicts_and_keeps_serving(images, tmp_path, tiny_fs, reserve):
    from PIL import Image
    import io as _io

    cfg = write_config(
        tmp_path / "tiny.toml",
        # The default size bound (10 GiB) is far above the filesystem's 4 MiB; no memory tier, so every
        # render goes to disk.
        f'[cache]\ndir = "{tiny_fs}"\nmemory_max_bytes = 0\nmin_free_bytes = {reserve}\n',
    )
    # Noise does not compress: each render is a few hundred KiB.
    root = tmp_path / "noise-images"
    root.mkdir()
    Image.merge("RGB", [Image.effect_noise((700, 700), 90 + 20 * i) for i in range(3)]).save(root / "noise.png")
    s = Server(root, ["--config", str(cfg)], tmp_path / "tiny.log", ready_path="/iiif/3/noise/info.json")
    try:
        widths = list(range(300, 600, 10))
        total = 0
        for w in widths:
            r = s.client.get(f"/iiif/3/noise/full/{w},/0/default.png")
            assert r.status == 200, r
            assert Image.open(_io.BytesIO(r.body)).size[0] == w
            total += len(r.body)
        assert total > 2 * TINY_FS_MIB * 1024 * 1024, "the renders must overflow the filesystem"
        st = os.statvfs(tiny_fs)
        free = st.f_bavail * st.f_frsize
        assert free >= reserve * 0.9, f"{free} bytes free, reserve {reserve}"
        cached = [p for p in tiny_fs.glob("*/*.bin")]
        assert cached, "nothing stayed cached"
        # The newest render is on disk and is served from there.
        hits = metric(s.client, "tessera_cache_hits_total", tier="disk")
        again = s.client.get(f"/iiif/3/noise/full/{widths[-1]},/0/default.png")
        assert again.status == 200
        assert metric(s.client, "tessera_cache_hits_total", tier="disk") == hits + 1
        assert s.alive()
        log = s.log_tail(200_000)
        assert "writing to the disk cache failed" not in log, log[-2000:]
    finally:
        s.stop()
