"""The derivative cache, stampede protection, HTTP caching and purge, against the real binary."""

from __future__ import annotations

import email.utils
import os
import shutil
import subprocess
import threading
import time

import pytest
from PIL import Image

from conftest import VALIDATOR_ID, Server, tessera_bin
from ops_helpers import cache_bytes, cache_files, metric, write_config

TOKEN = "test-admin-token-0123456789"


@pytest.fixture()
def root(tmp_path, images):
    """A private image folder (tests here modify sources)."""
    r = tmp_path / "images"
    r.mkdir()
    for name in [f"{VALIDATOR_ID}.png", "pixels.png", "photo.jpg", "rgba.png"]:
        shutil.copy(images / name, r / name)
    return r


def start(root, tmp_path, extra_toml: str = "", args: list[str] | None = None, name: str = "t") -> Server:
    cfg = write_config(tmp_path / f"{name}.toml", extra_toml)
    return Server(root, ["--config", str(cfg), *(args or [])], tmp_path / f"{name}.log")


def test_disk_cache_stays_within_its_bound_and_serves_identical_bytes(root, tmp_path, client):
    bound = 15_000
    cache = tmp_path / "cache"
    # No memory tier, so every second request is served from disk.
    s = start(root, tmp_path, "[cache]\nmemory_max_entry_bytes = 0\n", ["--cache-dir", str(cache), "--cache-max-bytes", str(bound)])
    try:
        written = 0
        for i in range(40):
            x, y, w = (i * 23) % 700, (i * 17) % 450, 200 + i
            path = f"/iiif/3/pixels/{x},{y},250,250/{w},/0/default.png"
            first = s.client.get(path)
            second = s.client.get(path)
            reference = client.get(path)  # the session server: no disk cache
            assert first.status == second.status == reference.status == 200, first
            assert first.body == second.body == reference.body, path
            assert first.header("ETag") == second.header("ETag")
            assert second.image().size[0] == w
            written += len(first.body)
            assert cache_bytes(cache) <= bound, f"cache holds {cache_bytes(cache)} bytes > {bound} after {path}"
        assert written > 3 * bound, "the stream must overflow the bound several times"
        assert metric(s.client, "tessera_cache_hits_total", tier="disk") >= 20
        assert 0 < metric(s.client, "tessera_cache_bytes", tier="disk") <= bound
        assert len(cache_files(cache)) >= 3
    finally:
        s.stop()
    kept = sorted(cache_files(cache))

    # After a restart, the index is rebuilt from disk: what is there is served without rendering.
    s = start(root, tmp_path, "[cache]\nmemory_max_entry_bytes = 0\n", ["--cache-dir", str(cache), "--cache-max-bytes", str(bound)], "t2")
    try:
        last = path  # the most recent entry of the stream
        r = s.client.get(last)
        assert r.status == 200 and r.body == client.get(last).body
        assert metric(s.client, "tessera_decodes_total") == 0
        deadline = time.monotonic() + 10
        while metric(s.client, "tessera_cache_entries", tier="disk") < len(kept):
            assert time.monotonic() < deadline, "the index was not rebuilt"
            time.sleep(0.1)
        # Everything that was there is indexed and kept.
        assert sorted(cache_files(cache)) == kept
        assert metric(s.client, "tessera_cache_entries", tier="disk") == len(kept)
    finally:
        s.stop()


def test_fifty_identical_concurrent_requests_render_once(root, tmp_path, client):
    s = start(root, tmp_path, args=["--cache-dir", str(tmp_path / "cache")])
    try:
        path = "/iiif/3/pixels/full/max/33/default.png"
        assert s.client.get("/iiif/3/pixels/info.json").status == 200
        before = {
            "decodes": metric(s.client, "tessera_decodes_total"),
            "coalesced": metric(s.client, "tessera_coalesced_total", kind="image"),
            "hits": metric(s.client, "tessera_cache_hits_total", tier="memory")
            + metric(s.client, "tessera_cache_hits_total", tier="disk"),
        }
        barrier = threading.Barrier(50)
        results = [None] * 50

        def fetch(i):
            barrier.wait()
            results[i] = s.client.get(path, timeout=60)

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r is not None and r.status == 200 for r in results), [r for r in results if r is None or r.status != 200][:1]
        assert len({r.body for r in results}) == 1
        assert results[0].body == client.get(path).body
        decodes = metric(s.client, "tessera_decodes_total") - before["decodes"]
        coalesced = metric(s.client, "tessera_coalesced_total", kind="image") - before["coalesced"]
        hits = (
            metric(s.client, "tessera_cache_hits_total", tier="memory")
            + metric(s.client, "tessera_cache_hits_total", tier="disk")
            - before["hits"]
        )
        assert decodes == 1, f"{decodes} decodes for 50 identical requests"
        assert coalesced > 0 and coalesced + hits == 49, (coalesced, hits)

        # info.json of a new source version: one header read for 30 concurrent requests.
        st = os.stat(root / "pixels.png")
        os.utime(root / "pixels.png", (st.st_atime, st.st_mtime + 7))
        info_before = metric(s.client, "tessera_coalesced_total", kind="info") + metric(s.client, "tessera_cache_hits_total", tier="info")
        barrier = threading.Barrier(30)
        infos = [None] * 30

        def fetch_info(i):
            barrier.wait()
            infos[i] = s.client.get("/iiif/3/pixels/info.json")

        threads = [threading.Thread(target=fetch_info, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.status == 200 for r in infos) and len({r.body for r in infos}) == 1
        info_after = metric(s.client, "tessera_coalesced_total", kind="info") + metric(s.client, "tessera_cache_hits_total", tier="info")
        assert info_after - info_before == 29, "one of 30 identical info.json requests reads the header"
    finally:
        s.stop()


def test_etags_last_modified_and_304(root, tmp_path):
    s = start(root, tmp_path, "[http]\nimage_max_age = 123\ninfo_max_age = 45\n", ["--cache-dir", str(tmp_path / "cache")])
    try:
        path = "/iiif/3/pixels/0,0,500,350/250,/0/default.png"
        r = s.client.get(path)
        assert r.status == 200
        etag, lm = r.header("ETag"), r.header("Last-Modified")
        assert etag and etag.startswith('"') and not etag.startswith("W/"), etag
        assert r.header("Cache-Control") == "public, max-age=123"
        assert email.utils.parsedate_to_datetime(lm).timestamp() == int(os.stat(root / "pixels.png").st_mtime)
        # The same request in another spelling is the same response.
        assert s.client.get("/iiif/3/pixels/0,0,500,350/250,175/0/default.png").header("ETag") == etag

        nm = s.client.get(path, {"If-None-Match": etag})
        assert nm.status == 304 and nm.body == b"" and nm.header("ETag") == etag
        assert nm.header("Cache-Control") == "public, max-age=123"
        assert s.client.get(path, {"If-None-Match": f'"nope", {etag}'}).status == 304
        assert s.client.get(path, {"If-None-Match": '"nope"'}).status == 200
        assert s.client.get(path, {"If-Modified-Since": lm}).status == 304
        older = email.utils.format_datetime(email.utils.parsedate_to_datetime(lm).replace(year=2001), usegmt=True)
        assert s.client.get(path, {"If-Modified-Since": older}).status == 200
        # If-None-Match wins over If-Modified-Since.
        assert s.client.get(path, {"If-None-Match": '"nope"', "If-Modified-Since": lm}).status == 200

        # info.json: its own max-age, Vary: Accept (and Host, which its ids name), an ETag per
        # representation, 304.
        info = s.client.get("/iiif/3/pixels/info.json")
        assert info.header("Cache-Control") == "public, max-age=45" and info.header("Vary") == "Accept, Host"
        assert s.client.get("/iiif/3/pixels/info.json", {"If-None-Match": info.header("ETag")}).status == 304
        plain = s.client.get("/iiif/3/pixels/info.json", {"Accept": "application/json"})
        assert plain.header("ETag") != info.header("ETag")

        # A changed source is a new version: new ETag, new pixels, never the cached derivative.
        Image.new("RGB", (1000, 700), (0, 255, 0)).save(root / "pixels.png")
        st = os.stat(root / "pixels.png")
        os.utime(root / "pixels.png", (st.st_atime, st.st_mtime + 5))
        changed = s.client.get(path)
        assert changed.status == 200 and changed.header("ETag") != etag
        assert changed.image().convert("RGB").getpixel((10, 10)) == (0, 255, 0)
        assert s.client.get(path, {"If-None-Match": etag}).status == 200
    finally:
        s.stop()


def test_purge_through_the_admin_endpoint_and_the_command(root, tmp_path):
    cache = tmp_path / "cache"
    s = start(root, tmp_path, f'[admin]\ntoken = "{TOKEN}"\n', ["--cache-dir", str(cache)])
    try:
        for ident in ["pixels", "photo"]:
            for w in (100, 200, 300):
                assert s.client.get(f"/iiif/3/{ident}/full/{w},/0/default.jpg").status == 200
        assert len(cache_files(cache)) == 6
        purge = "/admin/cache/purge?identifier=pixels"
        assert s.client.request(purge, "POST").status == 401
        assert s.client.request(purge, "POST", {"Authorization": "Bearer wrong-token-0123456789"}).status == 401
        assert s.client.get(purge).status == 405
        r = s.client.request(purge, "POST", {"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200, r
        assert r.json()["purged_files"] == 3
        assert len(cache_files(cache)) == 3
        # Purged from memory too: the next request renders again.
        decodes = metric(s.client, "tessera_decodes_total")
        assert s.client.get("/iiif/3/pixels/full/100,/0/default.jpg").status == 200
        assert metric(s.client, "tessera_decodes_total") == decodes + 1
        # Everything.
        r = s.client.request("/admin/cache/purge", "POST", {"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200 and r.json()["purged_files"] == 4
        assert cache_files(cache) == []
        assert s.client.get("/iiif/3/photo/full/100,/0/default.jpg").status == 200
    finally:
        s.stop()

    # `tessera cache purge`, on the folder left behind.
    s = start(root, tmp_path, args=["--cache-dir", str(cache)], name="t2")
    try:
        for ident in ["pixels", "photo"]:
            assert s.client.get(f"/iiif/3/{ident}/full/150,/0/default.jpg").status == 200
    finally:
        s.stop()
    before = len(cache_files(cache))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    run = lambda *a: subprocess.run([str(tessera_bin()), "cache", "purge", "--cache-dir", str(cache), *a], env=env, capture_output=True, text=True, timeout=30)
    out = run("--images", str(root), "--identifier", "pixels.png")
    assert out.returncode == 0, out.stderr
    assert "purged 1 files" in out.stdout
    assert len(cache_files(cache)) == before - 1
    out = run()
    assert out.returncode == 0 and cache_files(cache) == []


def test_admin_is_off_without_a_token(client):
    assert client.request("/admin/cache/purge", "POST", {"Authorization": "Bearer x"}).status == 404
