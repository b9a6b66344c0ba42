"""Cleartext HTTP/2 with prior knowledge (h2c) on the HTTP/1.1 port, as curl and proxies speak it.

Each check runs Debian's curl (built with nghttp2) and reads back which protocol it used
(`-w %{http_version}`); the bodies and the headers that matter must be those of HTTP/1.1.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import HOST, VALIDATOR_ID

INFO = f"/iiif/3/{VALIDATOR_ID}/info.json"
TILE = f"/iiif/3/{VALIDATOR_ID}/512,512,488,488/244,/0/default.jpg"


def curl_bin() -> str:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl (with HTTP/2) is needed for this test (scripts/test.sh installs it)", pytrace=False)
    return curl


def fetch(flag: str, url: str, out: Path) -> tuple[str, dict[str, str]]:
    """GET `url` with curl `flag`: the HTTP version used, and the response headers (lower-case names)."""
    head = out.with_suffix(".headers")
    res = subprocess.run(
        [curl_bin(), "-sS", flag, "-o", str(out), "-D", str(head), "-w", "%{http_version} %{http_code}", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    version, code = res.stdout.split()
    assert code == "200", (url, res.stdout)
    headers = {}
    for line in head.read_text().splitlines()[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return version, headers


@pytest.mark.parametrize("path", [INFO, TILE])
def test_h2c_prior_knowledge_gives_the_same_answer_as_http11(client, tmp_path, path):
    url = f"http://{HOST}:{client.port}{path}"
    v2, h2 = fetch("--http2-prior-knowledge", url, tmp_path / "h2.body")
    v1, h1 = fetch("--http1.1", url, tmp_path / "h1.body")
    assert (v2, v1) == ("2", "1.1")
    assert (tmp_path / "h2.body").read_bytes() == (tmp_path / "h1.body").read_bytes()
    assert (tmp_path / "h2.body").stat().st_size > 100
    for name in ("content-type", "etag", "cache-control", "link", "access-control-allow-origin", "vary"):
        assert h2.get(name) == h1.get(name), (name, h2.get(name), h1.get(name))


def test_many_tiles_share_one_h2c_connection(client):
    """What a viewer does: many tile requests at once, multiplexed as streams of one connection.
    nghttp (Debian's nghttp2-client) opens one h2c connection for all URIs of one host and sends every
    request before the first answer; curl 7.88's --parallel with prior knowledge fails all streams after
    the first (a curl bug: nghttp and h2load get every stream answered)."""
    nghttp = shutil.which("nghttp")
    if nghttp is None:
        pytest.fail("nghttp is needed for this test (scripts/test.sh installs nghttp2-client)", pytrace=False)
    paths = [f"/iiif/3/{VALIDATOR_ID}/{x},{y},250,250/125,/0/default.jpg" for x in range(0, 1000, 250) for y in range(0, 1000, 250)]
    res = subprocess.run(
        [nghttp, "-n", "--stat", *[f"http://{HOST}:{client.port}{p}" for p in paths]],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    # Stat rows: id, responseEnd, requestStart, process, code, size, path.
    rows = [line.split() for line in res.stdout.splitlines() if line.strip().endswith("default.jpg")]
    assert sorted(r[-1] for r in rows) == sorted(paths), res.stdout
    assert all(r[4] == "200" for r in rows), res.stdout
    # One connection: 16 distinct odd stream ids (client-initiated streams of a single connection).
    ids = {int(r[0]) for r in rows}
    assert len(ids) == len(paths) and all(i % 2 == 1 for i in ids), ids
    # All requests went out before the slowest answer came back: they were in flight together.
    assert max(seconds(r[2]) for r in rows) < max(seconds(r[1]) for r in rows), res.stdout


def seconds(v: str) -> float:
    """nghttp's relative times: `+102us`, `+3.91ms`, `+1.2s`."""
    v = v.lstrip("+")
    for unit, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    raise ValueError(v)
