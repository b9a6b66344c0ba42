"""`tessera check` over the config's rule set: every source the rules name is listed (a folder walked,
an S3 bucket listed on moto's real S3 server) and each image object is checked under the identifier the
rules serve it by, fallback copies included; HTTP origins, which cannot be listed, are reported."""

from __future__ import annotations

import io
import json
import os
import subprocess

import pytest
from PIL import Image

from conftest import tessera_bin
from origins import AWS_ENV, RangeOrigin, S3Server

BUCKET = "journal"


def image_bytes(fmt: str, size=(640, 480), color=(120, 40, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    work = tmp_path_factory.mktemp("check-rules")
    s3 = S3Server(work / "moto.log")
    s3.bucket(BUCKET)
    # A figure with its TIFF original, one with only the JPEG copy, one whose TIFF is broken but
    # has a JPEG copy, one broken with no copy; plus a file no rule serves.
    s3.put(BUCKET, "articles/1/fig1.tif", image_bytes("TIFF", (1200, 800)))
    s3.put(BUCKET, "articles/2/fig2.jpg", image_bytes("JPEG", (900, 600)))
    s3.put(BUCKET, "articles/3/fig3.tif", b"II*\x00" + b"\xff" * 400)
    s3.put(BUCKET, "articles/3/fig3.jpg", image_bytes("JPEG", (500, 400)))
    s3.put(BUCKET, "articles/4/fig4.tif", b"II*\x00" + b"\x00" * 64)
    s3.put(BUCKET, "articles/readme.txt", b"not an image")
    s3.put(BUCKET, "loose/photo.png", image_bytes("PNG", (300, 200)))
    disk = work / "disk"
    (disk / "plates").mkdir(parents=True)
    Image.new("L", (400, 1600), 90).save(disk / "plates" / "p1.png")
    origin = RangeOrigin()
    origin.put("web.png", image_bytes("PNG"))
    config = work / "tessera.toml"
    config.write_text(f"""
[fetch]
cache_dir = "{work / 'source-cache'}"

[[sources]]
name = "bucket"
kind = "s3"
bucket = "{BUCKET}"
endpoint = "{s3.endpoint}"
allow_http = true

[[sources]]
name = "disk"
kind = "folder"
root = "{disk}"

[[sources]]
name = "web"
kind = "http"
url = "{origin.url}"

[[rules]]
pattern = '^lax:(\\d+)/(.+)\\.tif$'
source = "bucket"
key = "articles/$1/$2.tif"
alternates = ["articles/$1/$2.jpg"]

[[rules]]
prefix = "disk:"
source = "disk"

[[rules]]
prefix = "web:"
source = "web"
""")
    yield work, config
    s3.stop()
    origin.close()


def test_check_lists_every_identifier_the_rules_serve(collection):
    work, config = collection
    report = work / "report.json"
    env = {**os.environ, **AWS_ENV}
    r = subprocess.run(
        [str(tessera_bin()), "check", "--config", str(config), "--report", str(report)],
        capture_output=True, text=True, timeout=180, env=env,
    )
    # fig4 has no readable original and no copy: the run must fail, and say so.
    assert r.returncode == 1, r.stdout + r.stderr
    rows = {o["identifier"]: o for o in json.loads(report.read_text())}
    assert set(rows) == {
        "lax:1/fig1.tif", "lax:2/fig2.tif", "lax:3/fig3.tif", "lax:4/fig4.tif", "disk:plates/p1.png",
    }, rows.keys()
    got = {i: (o["status"], o["width"], o["height"]) for i, o in rows.items() if o["status"] == "ok"}
    assert got == {
        "lax:1/fig1.tif": ("ok", 1200, 800),
        "lax:2/fig2.tif": ("ok", 900, 600),  # served by its JPEG copy
        "lax:3/fig3.tif": ("ok", 500, 400),  # broken TIFF, JPEG copy
        "disk:plates/p1.png": ("ok", 400, 1600),
    }
    assert rows["lax:4/fig4.tif"]["status"] == "error" and rows["lax:4/fig4.tif"]["error"]
    assert "5 images" in r.stdout and "4 ok, 1 error" in r.stdout, r.stdout
    # What could not be listed is said, not silently skipped.
    assert 'source "web"' in r.stderr and "cannot be listed" in r.stderr, r.stderr
    assert "no rule leads to" in r.stderr, r.stderr  # loose/photo.png


def test_a_source_that_cannot_be_listed_fails_the_check(collection, tmp_path):
    work, config = collection
    broken = tmp_path / "broken.toml"
    broken.write_text(config.read_text().replace(f'bucket = "{BUCKET}"', 'bucket = "no-such-bucket"'))
    env = {**os.environ, **AWS_ENV}
    r = subprocess.run(
        [str(tessera_bin()), "check", "--config", str(broken)],
        capture_output=True, text=True, timeout=180, env=env,
    )
    # The folder source is still checked, but the run fails and says which source was not listed.
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'error: source "bucket": listing failed' in r.stderr, r.stderr
    assert "1 images" in r.stdout and "1 ok" in r.stdout, r.stdout
