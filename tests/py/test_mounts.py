"""Mount points (`[iiif] v2_prefix` / `v3_prefix`): a site whose published 2.x URLs sit at the root
(Loris style, `https://iiif.example.org/lax:13410/elife-13410-fig4-v2.tif/full/,1000/0/default.jpg`)
keeps every URL. The root-mounted server answers with the same bytes as a default server's
`/iiif/2/...`, names the root in ids, Link headers and redirects, passes the official validator at
the root, and still serves health, metrics and the viewer (which win over identifiers there)."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image, ImageDraw

from conftest import REPO_ROOT, VALIDATOR_ID, Server, make_validator_image, tessera_bin
from test_validator import OPTIONAL, expected_tests, listed_tests, run_validator

FIG = "lax:13410/elife-13410-fig4-v2.tif"
EXAMPLE = f"/{FIG}/full/,1000/0/default.jpg"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("mount-images")
    src = REPO_ROOT / "images" / f"{VALIDATOR_ID}.png"
    if src.is_file():
        shutil.copy(src, root / src.name)
    else:
        make_validator_image().save(root / f"{VALIDATOR_ID}.png")
    (root / "lax:13410").mkdir()
    fig = Image.new("RGB", (600, 1200), (250, 250, 250))
    d = ImageDraw.Draw(fig)
    d.rectangle([0, 0, 299, 599], fill=(200, 30, 30))
    d.rectangle([300, 600, 599, 1199], fill=(30, 30, 200))
    fig.save(root / FIG)
    # An image whose identifier is also a route: the route wins at a root mount.
    (root / "health").mkdir()
    Image.new("RGB", (40, 30), (0, 200, 0)).save(root / "health" / "live.png")
    return root


def start(images, tmp_path_factory, name: str, iiif: str | None) -> Server:
    log = tmp_path_factory.mktemp("mount-log") / f"{name}.log"
    args: list[str] = []
    ready = f"/iiif/3/{VALIDATOR_ID}/info.json"
    if iiif is not None:
        config = log.parent / f"{name}.toml"
        config.write_text(f"[iiif]\n{iiif}\n")
        args = ["--config", str(config)]
        if 'v3_prefix = "/"' in iiif:
            ready = f"/{VALIDATOR_ID}/info.json"
    return Server(images, args, log, ready_path=ready)


@pytest.fixture(scope="module")
def default(images, tmp_path_factory):
    s = start(images, tmp_path_factory, "default", None)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def root(images, tmp_path_factory):
    s = start(images, tmp_path_factory, "root", 'v2_prefix = "/"')
    yield s
    s.stop()


def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


def test_the_published_url_answers_with_the_same_bytes(root, default):
    at_root = root.client.get(EXAMPLE)
    assert at_root.status == 200, at_root.body[:200]
    assert at_root.header("content-type") == "image/jpeg"
    usual = default.client.get(f"/iiif/2{EXAMPLE}")
    assert usual.status == 200
    assert at_root.body == usual.body
    img = Image.open(io.BytesIO(at_root.body))
    assert img.size == (500, 1000)
    # The red top-left quarter and the blue bottom-right one, as drawn.
    assert img.convert("RGB").getpixel((100, 200))[0] > 180
    assert img.convert("RGB").getpixel((400, 800))[2] > 180


def test_ids_links_and_redirects_name_the_root(root):
    info = root.client.get(f"/{FIG}/info.json")
    assert info.status == 200
    assert info.json()["@id"] == f"{base(root)}/{FIG}"
    assert "http://iiif.io/api/image/2/level2.json" in info.header("link")
    image = root.client.get(EXAMPLE)
    assert f'<{base(root)}/{FIG}/full/500,/0/default.jpg>;rel="canonical"' in image.header("link")
    redirect = root.client.get(f"/{FIG}")
    assert redirect.status == 303
    assert redirect.header("location") == f"{base(root)}/{FIG}/info.json"
    # `%2F` and raw slashes are one identifier at the root too.
    assert root.client.get("/lax:13410%2Felife-13410-fig4-v2.tif/full/,1000/0/default.jpg").body == image.body
    # 3.0 keeps its mount; /iiif/2/ is no longer a 2.1 service (it would be an identifier `iiif/2/...`).
    v3 = root.client.get(f"/iiif/3/{FIG}/info.json")
    assert v3.status == 200 and v3.json()["id"] == f"{base(root)}/iiif/3/{FIG}"
    assert root.client.get(f"/iiif/2/{FIG}/info.json").status == 404
    assert root.client.get("/no-such-image/info.json").status == 404
    assert root.client.options(f"/{FIG}/info.json").status == 204
    assert root.client.request(f"/{FIG}/info.json", method="POST").status == 405


def test_own_routes_win_at_the_root(root):
    live = root.client.get("/health/live")
    assert live.status == 200 and live.header("content-type", "").startswith("text/plain")
    assert root.client.get("/health/ready").status == 200
    assert b"tessera_requests_total" in root.client.get("/metrics").body
    # Only the route's own path is shadowed: the image under health/ is still served.
    assert root.client.get("/health/live.png/info.json").json()["width"] == 40
    index = root.client.get("/")
    assert index.status == 200 and index.header("content-type").startswith("text/html")
    page = index.body.decode()
    assert 'href="/lax:13410%2Felife-13410-fig4-v2.tif/info.json"' in page
    assert "/iiif/3/lax:13410%2Felife-13410-fig4-v2.tif/full/%5E!200,200/0/default.jpg" in page
    viewer = root.client.get("/viewer/lax:13410%2Felife-13410-fig4-v2.tif").body.decode()
    assert 'data-info="/iiif/3/lax:13410%2Felife-13410-fig4-v2.tif/info.json"' in viewer
    assert 'href="/lax:13410%2Felife-13410-fig4-v2.tif/info.json"' in viewer
    metrics = root.client.get("/metrics").body.decode()
    assert 'route="image"' in metrics and 'route="info"' in metrics


def test_3_0_at_the_root_and_2_1_elsewhere(images, tmp_path_factory):
    s = start(images, tmp_path_factory, "v3root", 'v2_prefix = "/loris/"\nv3_prefix = "/"')
    try:
        v3 = s.client.get(f"/{FIG}/info.json")
        assert v3.status == 200 and v3.json()["id"] == f"{base(s)}/{FIG}"
        v2 = s.client.get(f"/loris/{FIG}/info.json")
        assert v2.status == 200 and v2.json()["@id"] == f"{base(s)}/loris/{FIG}"
        assert s.client.get(f"/iiif/3/{FIG}/info.json").status == 404
        viewer = s.client.get(f"/viewer/{VALIDATOR_ID}").body.decode()
        assert f'data-info="/{VALIDATOR_ID}/info.json"' in viewer
    finally:
        s.stop()


@pytest.mark.parametrize(
    "iiif,message",
    [
        ('v2_prefix = "/"\nv3_prefix = ""', "cannot share one mount point"),
        ('v3_prefix = "/health"', "own /health routes"),
        ('v2_prefix = "iiif/2"', "iiif.v2_prefix must be"),
        ('v3_prefix = "/a/../b"', "iiif.v3_prefix must be"),
    ],
)
def test_mounts_that_cannot_work_stop_the_server(tmp_path, images, iiif, message):
    config = tmp_path / "bad.toml"
    config.write_text(f"[iiif]\n{iiif}\n")
    proc = subprocess.run(
        [str(tessera_bin()), "serve", "--images", str(images), "--listen", "127.0.0.1:0", "--config", str(config)],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def test_the_validator_passes_at_the_root(root, report):
    level = run_validator(root.port, "2.0", ["--level", "2"], prefix="")
    names = [n for n in OPTIONAL if n in listed_tests("2.0")]
    optional = run_validator(root.port, "2.0", [a for n in names for a in ("--test", n)], prefix="")
    results = {**level["results"], **optional["results"]}
    failed = {n: r["detail"] for n, r in results.items() if r["status"] != "PASS"}
    report(f"iiif-validator 2.0 at the root mount: {len(results) - len(failed)}/{len(results)} passed")
    assert not failed, failed
    missing = set(expected_tests("2.0")) - set(results)
    assert not missing, missing
    assert level["rc"] == 0 and optional["rc"] == 0
