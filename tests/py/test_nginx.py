"""Real Nginx (Debian's package) in front of Tessera, configured by the shipped deploy/nginx/tessera.conf
with only its ports and paths changed: ids, redirects, CORS, ETags and 304s must come out right.
Tessera trusts 127.0.0.1 as its proxy (server.trusted_proxies), as the shipped config's comment says."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import HOST, REPO_ROOT, VALIDATOR_ID, Client, free_port
from nginx_helpers import running

SHIPPED = REPO_ROOT / "deploy" / "nginx" / "tessera.conf"


def self_signed(d: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (the browser side's TLS, for HTTP/2)."""
    crt, key = d / "tessera.crt", d / "tessera.key"
    out = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=IP:{HOST}", "-keyout", str(key), "-out", str(crt)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return crt, key


def templated(port: int, tls_port: int, upstream: int, cache_dir: Path, cert: tuple[Path, Path]) -> str:
    """The shipped config with this test's ports, certificate and cache folder; each replaced line must
    exist."""
    text = SHIPPED.read_text()
    for old, new in [
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};"),
        ("listen 80;", f"listen {HOST}:{port};"),
        ("listen 443 ssl http2;", f"listen {HOST}:{tls_port} ssl http2;"),
        ("ssl_certificate /etc/nginx/tls/tessera.crt;", f"ssl_certificate {cert[0]};"),
        ("ssl_certificate_key /etc/nginx/tls/tessera.key;", f"ssl_certificate_key {cert[1]};"),
        ("proxy_cache_path /var/cache/nginx/tessera ", f"proxy_cache_path {cache_dir} "),
    ]:
        assert text.count(old) == 1, f"{old!r} not found once in {SHIPPED}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def nginx(trusted_server, tmp_path_factory):
    server = trusted_server
    d = tmp_path_factory.mktemp("nginx")
    port, tls_port = free_port(), free_port()
    (d / "cache").mkdir()
    client = Client(port)
    body = templated(port, tls_port, server.port, d / "cache", self_signed(d))
    with running(d, body, lambda: client.get("/health/live", timeout=2).status == 200):
        client.tls_port = tls_port
        yield client


def test_info_ids_name_the_proxy(nginx):
    r = nginx.get(f"/iiif/3/{VALIDATOR_ID}/info.json")
    assert r.status == 200
    assert r.json()["id"] == f"http://{HOST}:{nginx.port}/iiif/3/{VALIDATOR_ID}"
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert r.header("X-Content-Type-Options") == "nosniff"
    # ids come from the request's (proxy-set) headers, so a shared cache must key on them.
    assert r.header("Vary") == "Accept, Host, Forwarded, X-Forwarded-Host, X-Forwarded-Proto"
    v2 = nginx.get(f"/iiif/2/{VALIDATOR_ID}/info.json", {"X-Forwarded-Proto": "https"})
    assert v2.json()["@id"].startswith(f"http://{HOST}:{nginx.port}/"), "the proxy sets X-Forwarded-Proto itself"


def test_a_client_cannot_spoof_the_host_through_the_proxy(nginx):
    spoof = {"X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example;proto=https"}
    r = nginx.get(f"/iiif/3/{VALIDATOR_ID}/info.json", spoof)
    assert r.status == 200
    assert r.json()["id"] == f"http://{HOST}:{nginx.port}/iiif/3/{VALIDATOR_ID}"
    moved = nginx.get(f"/iiif/3/{VALIDATOR_ID}", spoof)
    assert moved.status == 303
    assert moved.header("Location") == f"http://{HOST}:{nginx.port}/iiif/3/{VALIDATOR_ID}/info.json"


def test_redirects_and_encoded_slashes(nginx):
    r = nginx.get(f"/iiif/3/{VALIDATOR_ID}")
    assert r.status == 303
    assert r.header("Location") == f"http://{HOST}:{nginx.port}/iiif/3/{VALIDATOR_ID}/info.json"
    sub = nginx.get("/iiif/3/lax:13410%2Felife-13410-fig4-v2/full/60,/0/default.jpg")
    assert sub.status == 200 and sub.image().size[0] == 60
    assert f"http://{HOST}:{nginx.port}/iiif/3/lax:13410%2Felife-13410-fig4-v2/full/60,120/0/default.jpg" in sub.header("Link")


def test_cors_preflight_and_errors(nginx):
    pre = nginx.options(f"/iiif/3/{VALIDATOR_ID}/info.json", {"Origin": "https://viewer.example", "Access-Control-Request-Method": "GET"})
    assert pre.status == 204 and "GET" in pre.header("Access-Control-Allow-Methods")
    missing = nginx.get("/iiif/3/no-such-image/info.json")
    assert missing.status == 404 and missing.header("Access-Control-Allow-Origin") == "*"


def test_etags_and_304_through_the_proxy_and_its_cache(nginx, trusted):
    client = trusted
    path = f"/iiif/3/{VALIDATOR_ID}/full/120,/0/default.jpg"
    first = nginx.get(path)
    assert first.status == 200
    etag = first.header("ETag")
    assert etag and not etag.startswith("W/")
    direct = client.get(path)
    assert direct.header("ETag") == etag and direct.body == first.body
    assert first.header("Cache-Control") == direct.header("Cache-Control")
    second = nginx.get(path)
    assert second.header("X-Cache-Status") == "HIT" and second.body == first.body
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": first.header("Last-Modified")}):
        nm = nginx.get(path, headers)
        assert nm.status == 304 and nm.body == b"" and nm.header("ETag") == etag, headers
    # An uncached URL: the 304 comes from Tessera through the proxy.
    fresh = f"/iiif/3/{VALIDATOR_ID}/full/121,/0/default.jpg"
    tag = client.get(fresh).header("ETag")
    r = nginx.get(fresh, {"If-None-Match": tag})
    assert r.status in (200, 304)  # Nginx may fetch the full response to fill its cache
    assert r.header("ETag") == tag
    assert nginx.get(fresh, {"If-None-Match": tag}).status == 304
    # info.json variants are kept apart by Vary: Accept.
    ld = nginx.get(f"/iiif/3/{VALIDATOR_ID}/info.json")
    js = nginx.get(f"/iiif/3/{VALIDATOR_ID}/info.json", {"Accept": "application/json"})
    assert ld.header("Content-Type").startswith("application/ld+json")
    assert js.header("Content-Type").startswith("application/json")
    assert nginx.get(f"/iiif/3/{VALIDATOR_ID}/info.json", {"If-None-Match": ld.header("ETag")}).status == 304


def test_admin_is_closed_and_health_is_open(nginx):
    assert nginx.request("/admin/cache/purge", "POST").status == 403
    assert nginx.get("/health/ready").status == 200
    assert nginx.get("/metrics").status == 200  # from this host only


def test_browsers_get_http2_over_tls_with_https_ids(nginx, tmp_path):
    """The TLS side speaks HTTP/2 (ALPN h2), as browsers need; ids then name https://."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is needed for this test", pytrace=False)
    base = f"https://{HOST}:{nginx.tls_port}"
    for path in [f"/iiif/3/{VALIDATOR_ID}/info.json", f"/iiif/3/{VALIDATOR_ID}/0,0,512,512/256,/0/default.jpg"]:
        body = tmp_path / "body"
        out = subprocess.run(
            [curl, "-sS", "-k", "--http2", "-o", str(body), "-w", "%{http_version} %{http_code}", base + path],
            capture_output=True, text=True, timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == "2 200", (path, out.stdout)
        if path.endswith("info.json"):
            assert json.loads(body.read_text())["id"] == f"{base}/iiif/3/{VALIDATOR_ID}"
        else:
            assert body.read_bytes() == nginx.get(path).body
