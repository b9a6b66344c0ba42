"""Per-image `info.json` extras and the physdim service.

- A sidecar `fig.tif.json` beside `fig.tif` adds `rights`, `partOf`, `seeAlso`, `service` and
  `preferredFormats` to 3.0, and `license`, `attribution`, `seeAlso` and `service` to 2.1; a rule's
  `info` template does the same with the identifier's captures; the official validator still passes
  on an image with a sidecar.
- A bad sidecar makes that image's `info.json` a 500 naming the file and key (tiles still work),
  and `tessera check` reports it; a sidecar is never served or listed as an image.
- A TIFF with a resolution in inches or centimetres, or an OME-TIFF with a physical pixel size,
  advertises `http://iiif.io/api/annex/services/physdim` with the scale its own tags give (read
  back by Pillow and tifffile); a TIFF without one does not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import REPO_ROOT, VALIDATOR_ID, Server, make_validator_image, tessera_bin
from test_validator import run_validator

PHYSDIM = "http://iiif.io/api/annex/services/physdim"
CC_BY = "http://creativecommons.org/licenses/by/4.0/"
AUTH = {
    "@id": "https://auth.example.org/login",
    "@type": "AuthCookieService1",
    "profile": "http://iiif.io/api/auth/1/login",
    "label": {"en": ["Log in to Example"]},
}
AUTH_V2 = {**AUTH, "label": "Log in to Example"}
SIDECAR = {
    "rights": CC_BY,
    "attribution": "Example Museum",
    "partOf": [{"id": "https://example.org/manifest/1", "type": "Manifest", "label": {"en": ["A book"]}}],
    "seeAlso": [{"id": "https://example.org/fig.xml", "type": "Dataset", "format": "text/xml",
                 "label": {"en": ["Technical metadata"]}}],
    "service": [AUTH],
    "preferredFormats": ["webp", "png"],
}


def write_json(path, value) -> None:
    path.write_text(json.dumps(value))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("extras-images")
    src = REPO_ROOT / "images" / f"{VALIDATOR_ID}.png"
    if src.is_file():
        shutil.copy(src, root / src.name)
    else:
        make_validator_image().save(root / f"{VALIDATOR_ID}.png")
    write_json(root / f"{VALIDATOR_ID}.png.json", SIDECAR)
    img = Image.new("RGB", (300, 200), (90, 140, 200))
    img.save(root / "fig.tif")
    write_json(root / "fig.tif.json", SIDECAR)
    img.save(root / "bad-key.tif")
    write_json(root / "bad-key.tif.json", {"rights": CC_BY, "licence": CC_BY})
    img.save(root / "bad-json.tif")
    (root / "bad-json.tif.json").write_text('{"rights": ')
    img.save(root / "bad-uri.tif")
    write_json(root / "bad-uri.tif.json", {"seeAlso": [{"id": "doi:10.1/x", "type": "Dataset"}]})
    img.save(root / "changing.tif")
    # Resolution tags: 300 dpi (unit inch), 118.11 px/cm (unit centimetre), none at all.
    img.save(root / "dpi300.tif", dpi=(300, 300))
    img.save(root / "percm.tif", resolution_unit="cm", x_resolution=118.11, y_resolution=118.11)
    img.save(root / "nores.tif")
    # OME-TIFF: 0.325 µm pixels (an objective's), written by tifffile.
    tifffile.imwrite(
        root / "ome.ome.tif",
        np.full((64, 96), 128, dtype=np.uint8),
        ome=True,
        metadata={"axes": "YX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325,
                  "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"},
    )
    # Served through a rule with an info template.
    (root / "articles" / "13410").mkdir(parents=True)
    img.save(root / "articles" / "13410" / "fig4.tif", dpi=(600, 600))
    return root


RULES = """
[[rules]]
pattern = '^lax:(\\d+)/(.+)$'
source = "images"
key = "articles/$1/$2"
info = { rights = "http://creativecommons.org/licenses/by/4.0/", seeAlso = [{ id = "https://doi.org/10.7554/eLife.$1", type = "Dataset" }] }

[[rules]]
prefix = ""
source = "images"
"""


@pytest.fixture(scope="module")
def server(images, tmp_path_factory):
    log = tmp_path_factory.mktemp("extras-log")
    config = log / "rules.toml"
    config.write_text(RULES)
    s = Server(images, ["--config", str(config)], log / "tessera.log")
    yield s
    s.stop()


def info(server, version: int, identifier: str):
    return server.client.get(f"/iiif/{version}/{identifier}/info.json")


def test_sidecar_in_3_0(server):
    r = info(server, 3, "fig.tif")
    assert r.status == 200
    doc = r.json()
    assert doc["rights"] == CC_BY
    assert doc["partOf"] == SIDECAR["partOf"]
    assert doc["seeAlso"] == SIDECAR["seeAlso"]
    assert doc["service"] == [AUTH]
    assert doc["preferredFormats"] == ["webp", "png"]
    assert "attribution" not in doc and "license" not in doc
    # The document itself is unchanged otherwise.
    assert doc["id"].endswith("/iiif/3/fig.tif") and doc["width"] == 300 and doc["type"] == "ImageService3"


def test_sidecar_in_2_1(server):
    doc = info(server, 2, "fig.tif").json()
    assert doc["license"] == CC_BY
    assert doc["attribution"] == "Example Museum"
    assert doc["seeAlso"] == [{"@id": "https://example.org/fig.xml", "format": "text/xml",
                               "label": "Technical metadata"}]
    assert doc["service"] == [AUTH_V2]
    for absent in ("rights", "partOf", "preferredFormats"):
        assert absent not in doc, absent
    assert doc["@id"].endswith("/iiif/2/fig.tif")


def test_the_validator_passes_with_a_sidecar(server, report):
    assert info(server, 3, VALIDATOR_ID).json()["rights"] == CC_BY
    assert info(server, 2, VALIDATOR_ID).json()["license"] == CC_BY
    for version in ("3.0", "2.0"):
        run = run_validator(server.port, version, ["--level", "2"])
        failed = {n: r["detail"] for n, r in run["results"].items() if r["status"] != "PASS"}
        report(f"iiif-validator {version} on an image with a sidecar: "
               f"{len(run['results']) - len(failed)}/{len(run['results'])} passed")
        assert run["results"] and not failed, failed
        assert run["rc"] == 0


@pytest.mark.parametrize(
    "identifier,words",
    [
        ("bad-key.tif", ["bad-key.tif.json", "licence", "unknown key"]),
        ("bad-json.tif", ["bad-json.tif.json", "not JSON"]),
        ("bad-uri.tif", ["bad-uri.tif.json", "seeAlso[0].id", "URI"]),
    ],
)
def test_a_bad_sidecar_is_a_clear_error(server, identifier, words):
    for version in (2, 3):
        r = info(server, version, identifier)
        assert r.status == 500
        assert r.header("content-type").startswith("text/plain")
        body = r.body.decode()
        for w in words:
            assert w in body, body
    # The pixels are still served.
    tile = server.client.get(f"/iiif/3/{identifier}/full/100,/0/default.jpg")
    assert tile.status == 200 and tile.image().size == (100, 67)


def test_a_sidecar_is_no_image(server):
    assert info(server, 3, "fig.tif.json").status == 404
    assert server.client.get("/iiif/3/fig.tif.json/full/max/0/default.jpg").status == 404
    index = server.client.get("/").body.decode()
    assert "fig.tif" in index and "fig.tif.json" not in index


def test_a_changed_sidecar_shows_at_once(server, images):
    before = info(server, 3, "changing.tif")
    assert before.status == 200 and "rights" not in before.json()
    sidecar = images / "changing.tif.json"
    write_json(sidecar, {"rights": CC_BY})
    future = time.time() + 3600
    os.utime(sidecar, (future, future))
    after = info(server, 3, "changing.tif")
    assert after.json()["rights"] == CC_BY
    assert after.header("etag") != before.header("etag")
    # Last-Modified follows the sidecar when it is newer than the image.
    assert after.header("last-modified") == time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(int(future)))
    sidecar.unlink()
    assert "rights" not in info(server, 3, "changing.tif").json()


def test_a_rule_template_with_captures(server):
    doc3 = info(server, 3, "lax:13410/fig4.tif").json()
    assert doc3["rights"] == CC_BY
    assert doc3["seeAlso"] == [{"id": "https://doi.org/10.7554/eLife.13410", "type": "Dataset"}]
    doc2 = info(server, 2, "lax:13410/fig4.tif").json()
    assert doc2["license"] == CC_BY
    assert doc2["seeAlso"] == [{"@id": "https://doi.org/10.7554/eLife.13410"}]
    # The other rule has no template.
    assert "rights" not in info(server, 3, "nores.tif").json()


def physdim(doc: dict) -> list[dict]:
    return [s for s in doc.get("service", []) if s.get("profile") == PHYSDIM]


@pytest.mark.parametrize(
    "identifier,units",
    [("dpi300.tif", "in"), ("percm.tif", "cm"), ("ome.ome.tif", "mm"), ("lax:13410/fig4.tif", "in")],
)
def test_physdim_for_a_stated_resolution(server, images, identifier, units):
    path = images / ("articles/13410/fig4.tif" if identifier.startswith("lax:") else identifier)
    if units == "mm":
        with tifffile.TiffFile(path) as t:
            assert "PhysicalSizeX=\"0.325\"" in t.ome_metadata
        want = 0.325 / 1000  # µm per pixel, as mm
    else:
        with Image.open(path) as im:
            per_unit = float(im.tag_v2[282])
            assert im.tag_v2[296] == (2 if units == "in" else 3)
        want = 1 / per_unit
    for version in (3, 2):
        doc = info(server, version, identifier).json()
        found = physdim(doc)
        assert len(found) == 1, doc.get("service")
        s = found[0]
        assert s["physicalUnits"] == units
        assert s["physicalScale"] == pytest.approx(want, rel=1e-6)
        assert s["@context"] == "http://iiif.io/api/annex/services/physdim/1/context.json"
        if version == 3:
            assert s["id"] == doc["id"] + "#physdim" and s["type"] == "PhysicalDimensions"
        else:
            assert s["@id"] == doc["@id"] + "#physdim" and "type" not in s


def test_no_physdim_without_a_resolution(server, images):
    with Image.open(images / "nores.tif") as im:
        assert 296 not in im.tag_v2 or im.tag_v2[296] == 1
    for version in (2, 3):
        doc = info(server, version, "nores.tif").json()
        assert physdim(doc) == [] and "service" not in doc
    # A PNG never states one here either.
    assert "service" not in info(server, 3, VALIDATOR_ID).json() or physdim(info(server, 3, VALIDATOR_ID).json()) == []


def test_check_reports_bad_sidecars(images, tmp_path):
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [str(tessera_bin()), "check", str(images), "--report", str(report)],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")},
    )
    assert proc.returncode == 1, proc.stderr
    rows = {r["identifier"]: r for r in json.loads(report.read_text())}
    for bad in ("bad-key.tif", "bad-json.tif", "bad-uri.tif"):
        assert rows[bad]["status"] == "error" and rows[bad]["cause"] == "metadata", rows[bad]
        assert f"{bad}.json" in rows[bad]["error"]
    assert rows["fig.tif"]["status"] == "ok"
    assert not any(i.endswith(".json") for i in rows)
