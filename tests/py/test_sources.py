"""Sources beyond the local folder, against real servers on 127.0.0.1: an S3-compatible server (moto)
spoken to with signed requests, and an HTTP origin honouring Range. Identifier rules, byte ranges on a
100+ MB tiled TIFF, fallbacks, retries, timeouts, 404s, revalidation of replaced objects, the cache bound,
and the quick start (`--images s3://…`, `--images http://…/`)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import tessera_bin
from origins import AWS_ENV, RangeOrigin, S3Server, Tessera, big_image, write_tiled_tiff

BUCKET = "published"
BIG_W = BIG_H = 6144  # 6144² RGB, 256² tiles: 113 MB uncompressed
TILE_REQUEST = "2560,2560,256,256/max/0/default.png"


def png_bytes(color, size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def jpg_bytes(color, size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", quality=95)
    return out.getvalue()


def noisy_jpg(seed: int, size=(400, 300)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 40 + seed).convert("RGB").save(out, format="JPEG", quality=95)
    return out.getvalue()


def pixel(body: bytes, xy=(5, 5)):
    return Image.open(io.BytesIO(body)).convert("RGB").getpixel(xy)


def near(a, b, tol=12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sources")


@pytest.fixture(scope="module")
def big_tiff(work) -> Path:
    path = work / "disk" / "big.tif"
    path.parent.mkdir()
    size = write_tiled_tiff(path, big_image(BIG_W, BIG_H))
    assert size >= 100 * 1024 * 1024
    return path


@pytest.fixture(scope="module")
def s3(work, big_tiff):
    server = S3Server(work / "moto.log")
    server.bucket(BUCKET)
    server.put_file(BUCKET, "big.tif", big_tiff)
    server.put(BUCKET, "articles/13410/elife-13410-fig4-v2.tif", png_bytes((200, 30, 30)))
    # Journal case: no TIFF at all, only the JPEG copy; and a TIFF that cannot be decoded.
    server.put(BUCKET, "articles/1/fig4.jpg", jpg_bytes((30, 200, 30)))
    server.put(BUCKET, "articles/2/fig5.tif", b"II*\x00" + b"\xff" * 500)
    server.put(BUCKET, "articles/2/fig5.jpg", jpg_bytes((30, 30, 200)))
    server.put(BUCKET, "quick/photo.jpg", jpg_bytes((250, 250, 0)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def origin():
    o = RangeOrigin()
    o.put("base/red.png", png_bytes((220, 20, 20)))
    o.put("fig7.jpg", jpg_bytes((20, 20, 220)))
    yield o
    o.close()


def config_text(work: Path, s3: S3Server, origin: RangeOrigin, cache: Path, cache_max: int) -> str:
    return f"""
[fetch]
timeout_secs = 1.0
connect_timeout_secs = 1.0
retries = 2
backoff_ms = 50
revalidate_after_secs = 1.0
cache_dir = "{cache}"
cache_max_bytes = {cache_max}

[[sources]]
name = "bucket"
kind = "s3"
bucket = "{BUCKET}"
endpoint = "{s3.endpoint}"
allow_http = true

[[sources]]
name = "origin"
kind = "http"
url = "{origin.url}"

[[sources]]
name = "disk"
kind = "folder"
root = "{work / 'disk'}"

[[rules]]
pattern = '^lax:(\\d+)/(.+)\\.tif$'
source = "bucket"
key = "articles/$1/$2.tif"
alternates = ["articles/$1/$2.jpg"]

[[rules]]
prefix = "s3:"
source = "bucket"

[[rules]]
prefix = "web:"
source = "origin"
alternates = ["${{stem}}.jpg"]

[[rules]]
prefix = "disk:"
source = "disk"
"""


def start(work: Path, s3, origin, name: str, cache_max: int = 200_000_000) -> Tessera:
    cache = work / f"cache-{name}"
    config = work / f"{name}.toml"
    config.write_text(config_text(work, s3, origin, cache, cache_max))
    return Tessera(tessera_bin(), ["--config", str(config)], work / f"{name}.log", env=AWS_ENV)


@pytest.fixture(scope="module")
def tessera(work, s3, origin):
    t = start(work, s3, origin, "main")
    yield t
    t.stop()


def test_a_tile_of_a_100mb_tiff_in_s3_reads_under_1mb_and_matches_disk(tessera, big_tiff, report):
    before = tessera.bytes_read("s3")
    status, from_s3 = tessera.get(f"/iiif/3/s3:big.tif/{TILE_REQUEST}")
    assert status == 200, from_s3[:300]
    fetched = tessera.bytes_read("s3") - before
    report(f"100 MB tiled TIFF ({big_tiff.stat().st_size} bytes) in S3: one 256x256 tile fetched {fetched} bytes")
    assert 0 < fetched < 1_000_000
    status, from_disk = tessera.get(f"/iiif/3/disk:big.tif/{TILE_REQUEST}")
    assert status == 200
    assert from_s3 == from_disk
    # The pixels are those of the file at that place, as Pillow decodes it.
    with Image.open(big_tiff) as im:
        expected = im.crop((2560, 2560, 2816, 2816)).convert("RGB")
    assert Image.open(io.BytesIO(from_s3)).convert("RGB").tobytes() == expected.tobytes()
    # Again: the header and the tile come from the source cache, nothing from S3.
    before = tessera.bytes_read("s3")
    status, again = tessera.get(f"/iiif/3/s3:big.tif/{TILE_REQUEST}")
    assert status == 200 and again == from_s3
    assert tessera.bytes_read("s3") == before


def test_info_json_of_the_big_tiff_reads_only_its_header(tessera):
    before = tessera.bytes_read("s3")
    status, body = tessera.get("/iiif/3/s3:big.tif/info.json")
    assert status == 200
    assert b'"width": 6144' in body
    assert tessera.bytes_read("s3") - before < 1_000_000


def test_pattern_rule_with_captures_maps_to_bucket_key(tessera):
    status, body = tessera.get("/iiif/3/lax:13410%2Felife-13410-fig4-v2.tif/full/max/0/default.png")
    assert status == 200, body[:200]
    assert near(pixel(body), (200, 30, 30))


def test_fallback_when_missing_and_when_undecodable(tessera):
    status, body = tessera.get("/iiif/3/lax:1%2Ffig4.tif/full/max/0/default.png")
    assert status == 200, body[:200]
    assert near(pixel(body), (30, 200, 30))
    status, body = tessera.get("/iiif/3/lax:2%2Ffig5.tif/full/max/0/default.png")
    assert status == 200, body[:200]
    assert near(pixel(body), (30, 30, 200))
    metrics = tessera.metrics()
    assert 'tessera_source_answers_total{source="bucket",alternate="1"}' in metrics
    assert "cannot decode" in tessera.log_text()


def test_fallback_on_the_http_origin(tessera, origin):
    status, body = tessera.get("/iiif/3/web:fig7.tif/full/max/0/default.png")
    assert status == 200, body[:200]
    assert near(pixel(body), (20, 20, 220))


def test_missing_and_unmatched_are_404(tessera):
    for ident in ["s3:nothing.tif", "web:nothing.png", "lax:3%2Fnope.tif", "no-rule-matches", "disk:nothing.tif"]:
        status, body = tessera.get(f"/iiif/3/{ident}/info.json")
        assert status == 404, (ident, body)
    status, _ = tessera.get("/iiif/3/s3:..%2Fsecret/info.json")
    assert status in (400, 404)


def test_the_viewer_opens_bucket_identifiers_and_lists_only_folders(tessera):
    status, body = tessera.get("/viewer/lax:13410%2Felife-13410-fig4-v2.tif")
    assert status == 200, body[:300]
    assert b'data-info="/iiif/3/lax:13410%2Felife-13410-fig4-v2.tif/info.json"' in body
    status, body = tessera.get("/viewer/web:fig7.tif")
    assert status == 200, body[:300]
    status, body = tessera.get("/viewer/s3:nothing.tif")
    assert status == 404 and b"no image has the identifier" in body
    status, body = tessera.get("/")
    assert status == 200
    assert b"1 image in the image folders." in body and b'href="/viewer/disk:big.tif"' in body
    assert b"s3:big.tif" not in body, "buckets are not listed"
    assert b"Only folder sources are listed here." in body
    assert b"source &quot;bucket&quot; (s3) is not a folder" in body
    assert b"source &quot;origin&quot; (http) is not a folder" in body


def test_retries_a_flaky_origin(tessera, origin):
    origin.put("flaky.png", png_bytes((10, 200, 10)))
    origin.fail("flaky.png", 2)
    status, body = tessera.get("/iiif/3/web:flaky.png/full/max/0/default.png")
    assert status == 200, body[:300]
    assert origin.count("flaky.png") >= 3


def test_an_origin_that_keeps_failing_is_a_502(tessera, origin):
    origin.put("down.png", png_bytes((10, 10, 10)))
    origin.fail("down.png", 1000)
    status, body = tessera.get("/iiif/3/web:down.png/info.json")
    assert status == 502, body
    assert b"origin" in body
    assert origin.count("down.png") == 3  # one try, two retries
    origin.fail("down.png", 0)


def test_a_stalled_origin_is_a_504_and_blocks_nothing_else(tessera, origin):
    origin.put("slow.png", png_bytes((1, 2, 3)))
    origin.stall("slow.png", 20)
    result = {}

    def slow():
        t0 = time.monotonic()
        result["status"], result["body"] = tessera.get("/iiif/3/web:slow.png/info.json")
        result["elapsed"] = time.monotonic() - t0

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    status, _ = tessera.get("/iiif/3/web:base%2Fred.png/full/64,/0/default.png")
    fast = time.monotonic() - t0
    assert status == 200
    assert fast < 2.0, f"another image took {fast:.2f}s while the origin stalled"
    thread.join(timeout=30)
    assert result.get("status") == 504, result
    assert b"did not answer in time" in result["body"]
    assert result["elapsed"] < 15


def test_a_replaced_object_is_revalidated(tessera, s3):
    s3.put(BUCKET, "replace.png", png_bytes((255, 0, 0)))
    status, body = tessera.get("/iiif/3/s3:replace.png/full/max/0/default.png")
    assert status == 200 and near(pixel(body), (255, 0, 0))
    s3.put(BUCKET, "replace.png", png_bytes((0, 0, 255), size=(320, 200)))
    time.sleep(1.3)  # revalidate_after_secs = 1
    status, body = tessera.get("/iiif/3/s3:replace.png/full/max/0/default.png")
    assert status == 200 and near(pixel(body), (0, 0, 255))
    status, body = tessera.get("/iiif/3/s3:replace.png/info.json")
    assert b'"width": 320' in body


def test_a_replaced_alternate_is_served_not_the_cached_render(tessera, s3):
    """The TIFF cannot be decoded, so its JPEG alternate answers; replacing the JPEG (and only it)
    must show: the derivative cache and ETag follow the alternates' versions too."""
    s3.put(BUCKET, "articles/9/fig9.tif", b"II*\x00" + b"\xff" * 500)
    s3.put(BUCKET, "articles/9/fig9.jpg", jpg_bytes((30, 200, 30)))
    status, body = tessera.get("/iiif/3/lax:9%2Ffig9.tif/full/max/0/default.png")
    assert status == 200 and near(pixel(body), (30, 200, 30))
    s3.put(BUCKET, "articles/9/fig9.jpg", jpg_bytes((200, 30, 200)))
    time.sleep(1.3)  # revalidate_after_secs = 1
    status, body = tessera.get("/iiif/3/lax:9%2Ffig9.tif/full/max/0/default.png")
    assert status == 200 and near(pixel(body), (200, 30, 200))


def test_whole_formats_are_fetched_once(tessera, origin):
    origin.put("once.jpg", noisy_jpg(1))
    for path in ["info.json", "full/max/0/default.jpg", "full/100,/0/default.png", "0,0,50,50/max/0/default.jpg"]:
        status, _ = tessera.get(f"/iiif/3/web:once.jpg/{path}")
        assert status == 200
    gets = [h for h in origin.hits if h[1] == "once.jpg" and h[0] == "GET"]
    assert len(gets) == 2, gets  # the magic bytes, then the whole file once


def test_concurrent_requests_fetch_an_object_once(tessera, origin):
    origin.put("shared.jpg", noisy_jpg(2))
    origin.stall("shared.jpg", 0.3)
    statuses = []
    threads = [
        threading.Thread(target=lambda: statuses.append(tessera.get("/iiif/3/web:shared.jpg/full/max/0/default.jpg")[0]))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 6
    whole = [h for h in origin.hits if h[1] == "shared.jpg" and h[0] == "GET" and h[2] is None]
    assert len(whole) == 1, whole


def test_the_cache_stays_within_its_bound(work, s3, origin):
    bound = 150_000
    t = start(work, s3, origin, "small-cache", cache_max=bound)
    try:
        cache = work / "cache-small-cache"
        for i in range(8):
            origin.put(f"many/{i}.jpg", noisy_jpg(10 + i))
            status, _ = t.get(f"/iiif/3/web:many%2F{i}.jpg/full/64,/0/default.jpg")
            assert status == 200
            files = list(cache.iterdir())
            assert sum(f.stat().st_size for f in files) <= bound
            assert not [f for f in files if f.name.startswith(".tmp-")]
        # Evicted entries are fetched again and still answer.
        status, _ = t.get("/iiif/3/web:many%2F0.jpg/full/64,/0/default.jpg")
        assert status == 200
    finally:
        t.stop()


def test_quick_start_from_s3_url(work, s3):
    env = dict(AWS_ENV, AWS_ENDPOINT_URL=s3.endpoint)
    t = Tessera(
        tessera_bin(),
        ["--images", f"s3://{BUCKET}/quick", "--config", str(cache_only(work, "quick-s3"))],
        work / "quick-s3.log",
        env=env,
    )
    try:
        status, body = t.get("/iiif/3/photo.jpg/full/max/0/default.png")
        assert status == 200, body[:300]
        assert near(pixel(body), (250, 250, 0))
        assert t.bytes_read("s3") > 0
        assert t.get("/iiif/3/big.tif/info.json")[0] == 404  # outside the prefix
    finally:
        t.stop()


def test_quick_start_from_http_url(work, origin):
    t = Tessera(
        tessera_bin(),
        ["--images", f"{origin.url}base/", "--config", str(cache_only(work, "quick-http"))],
        work / "quick-http.log",
    )
    try:
        status, body = t.get("/iiif/3/red.png/full/max/0/default.png")
        assert status == 200, body[:300]
        assert near(pixel(body), (220, 20, 20))
        assert t.bytes_read("http") > 0
    finally:
        t.stop()


def cache_only(work: Path, name: str) -> Path:
    path = work / f"{name}.toml"
    path.write_text(f'[fetch]\ncache_dir = "{work / ("cache-" + name)}"\n')
    return path


def test_quick_start_with_credentials_from_an_aws_profile(work, s3):
    home = work / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = nobody\n\n[tessera]\naws_access_key_id = {AWS_ENV['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {AWS_ENV['AWS_SECRET_ACCESS_KEY']}\n"
    )
    (home / ".aws" / "config").write_text("[profile tessera]\nregion = us-east-1\n")
    env = {"HOME": str(home), "AWS_PROFILE": "tessera", "AWS_ENDPOINT_URL": s3.endpoint, "AWS_ALLOW_HTTP": "true"}
    t = Tessera(
        tessera_bin(),
        ["--images", f"s3://{BUCKET}/quick", "--config", str(cache_only(work, "quick-profile"))],
        work / "quick-profile.log",
        env=env,
    )
    try:
        status, body = t.get("/iiif/3/photo.jpg/info.json", timeout=60)
        assert status == 200, body[:300]
    finally:
        t.stop()
