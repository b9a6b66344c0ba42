"""Safety: no identifier reads outside the image root, overlong URLs are refused, broken and hostile
images give errors (never a crash), and the server keeps serving under concurrent load."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from conftest import PIX_H, PIX_W, SECRET_MARKER

REFUSED = (400, 404)


def assert_refused(r, secret_size=(77, 33)):
    assert r.status in REFUSED, r
    assert SECRET_MARKER not in r.body
    assert b"root:x:0:0" not in r.body
    try:
        img = Image.open(io.BytesIO(r.body))
    except Exception:
        return
    assert img.size != secret_size, "served the outside image"


def traversal_identifiers(images_info) -> list[str]:
    outside = images_info["outside"]
    abs_secret = str(outside / "secret.png").lstrip("/").replace("/", "%2F")
    sib = images_info["sibling"].name
    return [
        "..%2Foutside%2Fsecret.png",
        "..%2Foutside%2Fsecret",
        "..%2foutside%2fsecret.png",
        "%2e%2e%2Foutside%2Fsecret.png",
        "%2E%2E%2Foutside%2Fsecret.png",
        "%2e%2e%2foutside%2fsecret",
        ".%2E%2Foutside%2Fsecret.png",
        "lax:13410%2F..%2F..%2Foutside%2Fsecret.png",
        "lax:13410%2F%2e%2e%2F%2e%2e%2Foutside%2Fsecret.png",
        "..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "%2F" + abs_secret,
        "%2F%2F" + abs_secret,
        "..%5Coutside%5Csecret.png",
        "..%252Foutside%252Fsecret.png",
        f"..%2F{sib}%2Fsecret.png",
        "link-out.png",
        "link-out",
        "linkdir%2Fsecret.png",
        "linkdir%2Fsecret",
        "linkdir%2Fsecret.txt",
        "linkdir%2Fsecret.png.txt",
        "pixels.png%00.txt",
        "%00",
        "..",
        "%2e%2e",
        ".",
    ]


def test_traversal_info_and_image(client, images_info):
    for ident in traversal_identifiers(images_info):
        for path in (
            f"/iiif/3/{ident}/info.json",
            f"/iiif/3/{ident}/full/max/0/default.png",
            f"/iiif/2/{ident}/full/full/0/default.png",
            f"/iiif/3/{ident}",
        ):
            r = client.get(path)
            if path.endswith(ident) and r.status == 303:
                continue  # base URI redirect: harmless, the info.json request above was checked
            assert_refused(r)


def test_traversal_raw_segments(client, images_info):
    sib = images_info["sibling"].name
    for path in (
        "/iiif/3/../outside/secret.png/info.json",
        "/iiif/3/../../outside/secret.png/full/max/0/default.png",
        "/iiif/3/lax:13410/../../outside/secret.png/info.json",
        "/iiif/3/lax:13410/../../outside/secret.png/full/max/0/default.png",
        "/iiif/3/./../outside/secret.png/info.json",
        f"/iiif/3/../{sib}/secret.png/info.json",
        "/iiif/3/linkdir/secret.png/info.json",
        "/iiif/3/linkdir/secret.png/full/max/0/default.png",
        "/iiif/3//etc/passwd/info.json",
        "/iiif/3/%2e%2e/outside/secret.png/info.json",
        "/iiif/2/../outside/secret.png/full/full/0/default.png",
        "/iiif/3/..\\outside\\secret.png/info.json",
    ):
        assert_refused(client.get(path))


def test_inside_symlink_pointing_outside_never_served_as_pixels(client):
    for size in ("max", "77,", "10,10"):
        r = client.get(f"/iiif/3/link-out.png/full/{size}/0/default.png")
        assert_refused(r)


@pytest.mark.parametrize("length", [10_000, 70_000])
def test_overlong_url_refused(client, length):
    ident = "a" * length
    try:
        r = client.get(f"/iiif/3/{ident}/full/max/0/default.jpg", timeout=10)
        assert r.status in (400, 414, 431), r
    except (ConnectionError, OSError) as e:  # a closed connection is not an answer
        pytest.fail(f"connection dropped instead of 414/400: {e!r}")
    assert client.get("/iiif/3/pixels/info.json").status == 200


def test_overlong_header_does_not_kill_server(client):
    try:
        r = client.get("/iiif/3/pixels/info.json", headers={"X-Junk": "x" * 100_000}, timeout=10)
        assert r.status in (200, 400, 413, 431), r
    except OSError:
        pass  # dropping such a request is acceptable
    assert client.get("/iiif/3/pixels/info.json").status == 200


def broken_files(images) -> list[str]:
    return sorted(p.name for p in (images / "broken").iterdir())


BOMBS = ("bomb_",)
NOT_CLAIMED = (".svs",)


def test_broken_images_give_errors(server, client, images, report):
    results = []
    failures = []
    for name in broken_files(images):
        ident = "broken%2F" + name
        t0 = time.monotonic()
        try:
            r = client.get(f"/iiif/3/{ident}/full/max/0/default.png", timeout=60)
            status, body = r.status, r.body
        except OSError as e:
            status, body = None, repr(e).encode()
        dt = time.monotonic() - t0
        results.append(f"  {status} {dt:5.2f}s {name}")
        if not server.alive():
            failures.append(f"{name}: server died ({server.log_tail(1000)})")
            break
        if name.startswith(BOMBS) or name.endswith(NOT_CLAIMED):
            ok = status is not None and status >= 400
            want = ">= 400"
        else:
            ok = status is not None and 500 <= status < 600 and len(body) > 0
            want = "5xx with a message"
        if not ok:
            failures.append(f"{name}: got {status} {body[:120]!r}, want {want}")
        assert client.get("/iiif/3/pixels/info.json").status == 200, f"server stopped serving after {name}"
    report("broken images (status, time, file):")
    for line in results:
        report(line)
    assert not failures, "\n".join(failures)


def test_broken_info_does_not_crash(server, client, images):
    for name in broken_files(images):
        try:
            r = client.get(f"/iiif/3/broken%2F{name}/info.json", timeout=30)
        except OSError as e:
            pytest.fail(f"{name}: {e!r}")
        # a header may still be readable (200); otherwise an error with a body
        assert r.status == 200 or (r.status >= 400 and r.body), (name, r)
        assert server.alive(), f"server died on info.json of {name}"
    r = client.get("/iiif/3/pixels/full/100,/0/default.jpg")
    assert r.status == 200 and r.image().size == (100, 70)


def test_concurrent_requests(client, report):
    paths = []
    for i in range(48):
        kind = i % 4
        if kind == 0:
            paths.append(("/iiif/3/pixels/info.json", None))
        elif kind == 1:
            x = (i * 37) % 900
            paths.append((f"/iiif/3/pixels/{x},100,100,100/max/0/default.jpg", (100, 100)))
        elif kind == 2:
            w = 100 + i
            paths.append((f"/iiif/3/pixels-striped/full/{w},/90/default.png", (round(w * PIX_H / PIX_W), w)))
        else:
            paths.append((f"/iiif/2/pixels/pct:{i % 50},0,50,50/250,/0/gray.webp", (250, 175)))

    def one(item):
        path, size = item
        r = client.get(path, timeout=60)
        if r.status != 200:
            return f"{path}: {r.status}"
        if size is not None:
            got = r.image().size
            if abs(got[0] - size[0]) > 1 or abs(got[1] - size[1]) > 1:
                return f"{path}: size {got} != {size}"
        return None

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = [e for e in pool.map(one, paths) if e]
    report(f"concurrency: {len(paths)} requests over 8 connections in {time.monotonic() - t0:.2f}s")
    assert not errors, errors


def test_still_serving_at_the_end(server, client):
    assert server.alive()
    r = client.get("/iiif/3/pixels/full/max/0/default.jpg")
    assert r.status == 200 and r.image().size == (PIX_W, PIX_H)
