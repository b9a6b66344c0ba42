"""HTTP behaviour: status codes, headers, info.json documents, identifiers.

Expected values come from the IIIF Image API 3.0 and 2.1 specifications (sections cited inline).
"""

from __future__ import annotations

import math
import re
from urllib.parse import urljoin

import pytest

from conftest import LIMITS, PIX_H, PIX_W, PUBLIC_BASE, VALIDATOR_ID

IMG3 = "/iiif/3/pixels"
IMG2 = "/iiif/2/pixels"

# ----------------------------------------------------------------------------- status codes

BAD_3 = {
    # region (4.1): bad syntax, zero width/height, entirely outside
    "region-word": "foo/max/0/default.jpg",
    "region-3-numbers": "1,2,3/max/0/default.jpg",
    "region-negative": "-1,0,10,10/max/0/default.jpg",
    "region-float-px": "0.5,0,10,10/max/0/default.jpg",
    "region-empty-pct": "pct:/max/0/default.jpg",
    "region-zero-width": "0,0,0,10/max/0/default.jpg",
    "region-zero-height": "0,0,10,0/max/0/default.jpg",
    "region-outside": "5000,5000,10,10/max/0/default.jpg",
    "region-x-at-width": f"{PIX_W},0,10,10/max/0/default.jpg",
    "region-y-at-height": f"0,{PIX_H},10,10/max/0/default.jpg",
    "region-pct-zero": "pct:0,0,0,10/max/0/default.jpg",
    "region-pct-outside": "pct:100,0,10,10/max/0/default.jpg",
    "region-pct-negative": "pct:-1,0,10,10/max/0/default.jpg",
    # size (4.2)
    "size-full-removed-in-3": "full/full/0/default.jpg",
    "size-word": "full/abc/0/default.jpg",
    "size-zero-w": "full/0,/0/default.jpg",
    "size-zero-h": "full/,0/0/default.jpg",
    "size-zero-wh": "full/0,0/0/default.jpg",
    "size-comma": "full/,/0/default.jpg",
    "size-pct-zero": "full/pct:0/0/default.jpg",
    "size-pct-over-100": "full/pct:101/0/default.jpg",
    "size-w-over-region": f"full/{PIX_W + 1},/0/default.jpg",
    "size-h-over-region": f"full/,{PIX_H + 1}/0/default.jpg",
    "size-wh-over-region": "full/2000,1400/0/default.jpg",
    "size-confined-missing-h": "full/!100,/0/default.jpg",
    "size-caret-alone": "full/^/0/default.jpg",
    "size-pct-negative": "full/pct:-5/0/default.jpg",
    "size-region-upscale": "0,0,10,10/20,/0/default.jpg",
    # rotation (4.3)
    "rotation-negative": "full/max/-90/default.jpg",
    "rotation-over-360": "full/max/361/default.jpg",
    "rotation-word": "full/max/abc/default.jpg",
    "rotation-bang-only": "full/max/!/default.jpg",
    "rotation-double-bang": "full/max/!!90/default.jpg",
    "rotation-plus": "full/max/+90/default.jpg",
    "rotation-exponent": "full/max/1e2/default.jpg",
    "rotation-two-dots": "full/max/9.0.0/default.jpg",
    # quality (4.4) and format (4.5)
    "quality-grey-british": "full/max/0/grey.jpg",
    "quality-native-1x": "full/max/0/native.jpg",
    "quality-word": "full/max/0/foo.jpg",
    "format-bmp": "full/max/0/default.bmp",
    "format-word": "full/max/0/default.foo",
    "format-jpeg-spelling": "full/max/0/default.jpeg",
}


@pytest.mark.parametrize("name", list(BAD_3))
def test_bad_request_v3(client, name):
    r = client.get(f"{IMG3}/{BAD_3[name]}")
    assert r.status == 400, r
    assert r.body, "error responses should carry a human-readable description (7.3)"


BAD_2 = {
    "region-zero-width": "0,0,0,10/full/0/default.jpg",
    "region-outside": "5000,5000,10,10/full/0/default.jpg",
    "size-zero": "full/0,/0/default.jpg",
    "size-caret-is-3.0-only": "full/^500,/0/default.jpg",
    "rotation-over-360": "full/full/361/default.jpg",
    "quality-grey": "full/full/0/grey.jpg",
    "quality-native": "full/full/0/native.jpg",
    "format-word": "full/full/0/default.foo",
}


def test_format_missing(client):
    # No ".format": 400 per the grammar, but with raw-slash identifiers the path is also the base
    # URI of the identifier "pixels/full/max/0/default", which does not exist: 404 is defensible too.
    r = client.get(f"{IMG3}/full/max/0/default")
    assert r.status in (400, 404), r


@pytest.mark.parametrize("name", list(BAD_2))
def test_bad_request_v2(client, name):
    r = client.get(f"{IMG2}/{BAD_2[name]}")
    assert r.status == 400, r


@pytest.mark.parametrize("fmt", ["jp2", "pdf"])
@pytest.mark.parametrize("version", ["3", "2"])
def test_unsupported_spec_format(client, version, fmt):
    # Valid format names that Tessera does not produce: 3.0 4.5 says 400, the project contract says
    # 501 (valid but not implemented, 7.3). Either is acceptable; 200 or 404 is not.
    size = "max" if version == "3" else "full"
    r = client.get(f"/iiif/{version}/pixels/full/{size}/0/default.{fmt}")
    assert r.status in (400, 501), r


GOOD_3 = [
    "full/max/0/default.jpg",
    "square/max/0/default.jpg",
    "full/^max/0/default.jpg",
    "full/max/0.5/default.png",
    "full/max/359.9/default.png",
    "full/max/360/default.jpg",
    "full/max/!0/default.jpg",
    "full/pct:100/0/default.jpg",
    "full/pct:0.5/0/default.jpg",
    f"full/{PIX_W},/0/default.jpg",
    f"full/,{PIX_H}/0/default.jpg",
    "full/^pct:200/0/default.jpg",
    "full/max/0/color.jpg",
    "full/max/0/gray.jpg",
    "full/max/0/bitonal.jpg",
    "900,600,300,300/max/0/default.jpg",  # partly outside: cropped, not an error
    "pct:90,90,20,20/max/0/default.jpg",
]


@pytest.mark.parametrize("path", GOOD_3)
def test_good_request_v3(client, path):
    r = client.get(f"{IMG3}/{path}")
    assert r.status == 200, r
    r.image()


GOOD_2 = [
    "full/full/0/default.jpg",
    "full/max/0/default.jpg",
    "square/full/0/default.jpg",
    "full/2000,/0/default.jpg",  # sizeAboveFull
    "full/pct:150/0/default.jpg",
    "full/full/0/gray.jpg",
    "full/full/0/bitonal.png",
    "full/full/!90/color.png",
]


@pytest.mark.parametrize("path", GOOD_2)
def test_good_request_v2(client, path):
    r = client.get(f"{IMG2}/{path}")
    assert r.status == 200, r
    r.image()


def test_2_full_and_max_same_size(client):
    a = client.get(f"{IMG2}/full/full/0/default.png").image()
    b = client.get(f"{IMG2}/full/max/0/default.png").image()
    assert a.size == b.size == (PIX_W, PIX_H)


def test_upscale_beyond_max_scale_refused(client):
    # --max-scale 4: 5x is beyond the server's limit, which must be an error, not an image.
    r = client.get(f"{IMG3}/0,0,100,70/^500,/0/default.jpg")
    assert r.status in (400, 404, 501), r


@pytest.mark.parametrize("ident", ["no-such-image", "no-such-image.png", "pixels.gif", "nosuchdir%2Fpixels"])
def test_unknown_identifier_404(client, ident):
    for path in (f"/iiif/3/{ident}/info.json", f"/iiif/3/{ident}/full/max/0/default.jpg", f"/iiif/2/{ident}/info.json"):
        r = client.get(path)
        assert r.status == 404, r


def test_unknown_identifier_with_extension_of_other_file(client):
    # pixels.png exists; pixels.jpg does not: an explicit extension must not pick a different file
    assert client.get("/iiif/3/pixels.jpg/info.json").status == 404


def test_limits_server_rejects_oversize(limited):
    for size in ("900,", ",700", f"{LIMITS['maxWidth']},{LIMITS['maxHeight']}"):
        r = limited.get(f"{IMG3}/full/{size}/0/default.jpg")
        # 4.2: sizes beyond server-imposed limits SHOULD be 400 (7.3 lists 404 for the same case)
        assert r.status in (400, 404), (size, r)
    assert limited.get(f"{IMG3}/full/800,/0/default.jpg").status == 200


# ---------------------------------------------------------------------------------- headers

CTYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif", "tif": "image/tiff"}


@pytest.mark.parametrize("fmt", list(CTYPES))
def test_content_type(client, fmt):
    r = client.get(f"{IMG3}/full/100,/0/default.{fmt}")
    assert r.status == 200
    assert r.header("Content-Type", "").split(";")[0].strip() == CTYPES[fmt]


CORS_PATHS = [
    f"{IMG3}/info.json",
    f"{IMG2}/info.json",
    f"{IMG3}/full/100,/0/default.jpg",
    f"{IMG2}/full/100,/0/default.jpg",
    f"{IMG3}/foo/max/0/default.jpg",  # 400
    "/iiif/3/no-such-image/info.json",  # 404
    "/iiif/3/no-such-image/full/max/0/default.jpg",  # 404
    IMG3,  # 303
]


@pytest.mark.parametrize("path", CORS_PATHS)
def test_cors_on_every_response(client, path):
    r = client.get(path, headers={"Origin": "https://viewer.example.net"})
    assert r.header("Access-Control-Allow-Origin") == "*", r


@pytest.mark.parametrize("path", [f"{IMG3}/info.json", f"{IMG3}/full/100,/0/default.jpg", f"{IMG2}/info.json"])
def test_options_preflight(client, path):
    r = client.options(
        path,
        headers={
            "Origin": "https://viewer.example.net",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "accept",
        },
    )
    assert r.status in (200, 204), r
    assert r.header("Access-Control-Allow-Origin") == "*"
    methods = r.header("Access-Control-Allow-Methods", "")
    assert "GET" in [m.strip().upper() for m in methods.split(",")], methods
    allow_headers = (r.header("Access-Control-Allow-Headers") or "").lower()
    assert allow_headers == "*" or "accept" in allow_headers, allow_headers


@pytest.mark.parametrize("path", [f"{IMG3}/info.json", f"{IMG3}/full/100,/0/default.png", f"{IMG2}/info.json"])
def test_head(client, path):
    g = client.get(path)
    h = client.head(path)
    assert h.status == g.status == 200
    assert h.body == b""
    assert h.header("Content-Type") == g.header("Content-Type")
    if h.header("Content-Length") is not None:
        assert int(h.header("Content-Length")) == len(g.body)


def test_head_unknown_is_404(client):
    r = client.head("/iiif/3/no-such-image/info.json")
    assert r.status == 404 and r.body == b""


def parse_links(values: list[str]) -> dict[str, str]:
    """rel -> URI from Link headers (RFC 8288), tolerant of spacing and of several links per header."""
    rels: dict[str, str] = {}
    for value in values:
        for m in re.finditer(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)', value):
            uri, params = m.group(1), m.group(2)
            rel = re.search(r'rel\s*=\s*"?([^";,]+)"?', params)
            if rel:
                for r in rel.group(1).split():
                    rels[r.lower()] = uri
    return rels


@pytest.mark.parametrize("version,level", [("3", "http://iiif.io/api/image/3/level2.json"), ("2", "http://iiif.io/api/image/2/level2.json")])
def test_link_profile_header(client, version, level):
    size = "max" if version == "3" else "full"
    for path in (f"/iiif/{version}/pixels/full/{size}/0/default.jpg", f"/iiif/{version}/pixels/info.json"):
        r = client.get(path)
        links = parse_links(r.header_all("Link"))
        assert links.get("profile") == level, (path, r.header_all("Link"))


CANONICAL_3 = {
    "full/max/0/default.jpg": "full/max/0/default.jpg",
    "0,0,1000,700/max/0/default.jpg": "full/max/0/default.jpg",
    "full/1000,700/0/default.jpg": "full/max/0/default.jpg",
    "full/1000,/0/default.jpg": "full/max/0/default.jpg",
    "pct:10,20,50,50/250,/0/default.jpg": "100,140,500,350/250,175/0/default.jpg",
    "100,140,500,350/pct:50/0/default.png": "100,140,500,350/250,175/0/default.png",
    "full/!400,400/0/default.jpg": "full/400,280/0/default.jpg",
    "full/400,400/90.0/default.jpg": "full/400,400/90/default.jpg",
    "full/500,/!22.50/gray.png": "full/500,350/!22.5/gray.png",
    "full/^1500,/0/default.jpg": "full/^1500,1050/0/default.jpg",
}


@pytest.mark.parametrize("path", list(CANONICAL_3))
def test_link_canonical_v3(client, path):
    r = client.get(f"{IMG3}/{path}")
    assert r.status == 200, r
    links = parse_links(r.header_all("Link"))
    assert links.get("canonical") == f"{client.base}{IMG3}/{CANONICAL_3[path]}", r.header_all("Link")


CANONICAL_2 = {
    "full/full/0/default.jpg": "full/full/0/default.jpg",
    "full/500,350/0/default.jpg": "full/500,/0/default.jpg",
    "full/,350/0/default.jpg": "full/500,/0/default.jpg",
    "full/400,400/0/default.jpg": "full/400,400/0/default.jpg",
    "pct:10,20,50,50/250,/0/default.jpg": "100,140,500,350/250,/0/default.jpg",
}


@pytest.mark.parametrize("path", list(CANONICAL_2))
def test_link_canonical_v2(client, path):
    r = client.get(f"{IMG2}/{path}")
    assert r.status == 200, r
    links = parse_links(r.header_all("Link"))
    assert links.get("canonical") == f"{client.base}{IMG2}/{CANONICAL_2[path]}", r.header_all("Link")


@pytest.mark.parametrize("version", ["3", "2"])
@pytest.mark.parametrize("ident", ["pixels", "pixels.png", "lax:13410%2Felife-13410-fig4-v2.tif"])
def test_base_uri_redirect(client, version, ident):
    r = client.get(f"/iiif/{version}/{ident}")
    assert r.status == 303, r
    loc = r.header("Location")
    assert loc, "303 must carry a Location (7.2)"
    assert urljoin(r.url, loc) == f"{client.base}/iiif/{version}/{ident}/info.json"


# ------------------------------------------------------------------------- content negotiation


def _ctype(r) -> str:
    return r.header("Content-Type", "").split(";")[0].strip().lower()


@pytest.mark.parametrize("version", ["3", "2"])
def test_jsonld_when_asked(client, version):
    r = client.get(f"/iiif/{version}/pixels/info.json", headers={"Accept": "application/ld+json"})
    assert r.status == 200
    assert _ctype(r) == "application/ld+json"
    r.json()


def test_jsonld_v3_profile_parameter(client):
    # 3.0 5.1: application/ld+json with profile="http://iiif.io/api/image/3/context.json"
    r = client.get(f"{IMG3}/info.json", headers={"Accept": "application/ld+json"})
    ct = r.header("Content-Type", "")
    assert re.search(r'profile="?http://iiif\.io/api/image/3/context\.json"?', ct), ct


@pytest.mark.parametrize("version", ["3", "2"])
def test_json_when_asked(client, version):
    r = client.get(f"/iiif/{version}/pixels/info.json", headers={"Accept": "application/json"})
    assert r.status == 200
    assert _ctype(r) == "application/json"


def test_v2_plain_json_without_accept(client):
    # 2.1 5.1: unless JSON-LD is asked for, the server MUST return application/json
    r = client.get(f"{IMG2}/info.json")
    assert _ctype(r) == "application/json"
    r = client.get(f"{IMG2}/info.json", headers={"Accept": "*/*"})
    assert _ctype(r) == "application/json"


def test_v3_json_without_accept(client):
    # 3.0 5.1 recommends ld+json here; the project contract says application/json. Both are JSON.
    r = client.get(f"{IMG3}/info.json")
    assert _ctype(r) in ("application/json", "application/ld+json")


# ---------------------------------------------------------------------------------- info.json

FEATURES_3 = {
    "baseUriRedirect", "canonicalLinkHeader", "cors", "jsonldMediaType", "mirroring", "profileLinkHeader",
    "regionByPct", "regionByPx", "regionSquare", "rotationArbitrary", "rotationBy90s", "sizeByConfinedWh",
    "sizeByH", "sizeByPct", "sizeByW", "sizeByWh", "sizeUpscaling",
}


def check_sizes_and_tiles(client, prefix: str, info: dict, version: str, limits: dict | None = None):
    w, h = info["width"], info["height"]
    for s in info.get("sizes", []):
        assert set(s) <= {"width", "height", "type", "@type"}, s
        assert isinstance(s["width"], int) and isinstance(s["height"], int)
        assert 0 < s["width"] <= w and 0 < s["height"] <= h
        assert math.isclose(s["width"] / s["height"], w / h, rel_tol=0.05) or abs(s["width"] - w * s["height"] / h) <= 1
        if version == "3" and "type" in s:
            assert s["type"] == "Size"
        if limits:
            assert s["width"] <= limits["maxWidth"] and s["height"] <= limits["maxHeight"]
            assert s["width"] * s["height"] <= limits["maxArea"]
        size = f"{s['width']},{s['height']}" if version == "3" else f"{s['width']},"
        img = client.get(f"{prefix}/full/{size}/0/default.jpg").image()
        assert img.size == (s["width"], s["height"])
    seen = set()
    for t in info.get("tiles", []):
        tw, th = t["width"], t.get("height", t["width"])
        assert isinstance(tw, int) and isinstance(th, int) and tw > 0 and th > 0
        assert (tw, th) not in seen
        seen.add((tw, th))
        sf = t["scaleFactors"]
        assert sf and all(isinstance(f, int) and f > 0 for f in sf) and len(set(sf)) == len(sf)
        if version == "3" and "type" in t:
            assert t["type"] == "Tile"
        # Every scale factor must serve its tiles (compliance 3.2): fetch the top-left and the
        # bottom-right tile of each level, with the sizes the implementation notes prescribe.
        for f in sf[:6]:
            lw, lh = math.ceil(w / f), math.ceil(h / f)
            for tx, ty in {(0, 0), ((lw - 1) // tw, (lh - 1) // th)}:
                x, y = tx * tw * f, ty * th * f
                rw, rh = min(tw * f, w - x), min(th * f, h - y)
                ow, oh = math.ceil(rw / f), math.ceil(rh / f)
                region = "full" if (x, y, rw, rh) == (0, 0, w, h) else f"{x},{y},{rw},{rh}"
                size = f"{ow},{oh}" if version == "3" else f"{ow},"
                r = client.get(f"{prefix}/{region}/{size}/0/default.jpg")
                assert r.status == 200, r
                assert r.image().size == (ow, oh), (region, size)


def test_info_v3(client):
    r = client.get(f"{IMG3}/info.json")
    assert r.status == 200
    info = r.json()
    ctx = info["@context"]
    assert ctx == "http://iiif.io/api/image/3/context.json" or (
        isinstance(ctx, list) and ctx[-1] == "http://iiif.io/api/image/3/context.json"
    )
    assert list(info)[0] == "@context", "@context SHOULD be the first key (5.2)"
    assert info["id"] == f"{client.base}{IMG3}"
    assert info["type"] == "ImageService3"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert info["profile"] == "level2"
    assert (info["width"], info["height"]) == (PIX_W, PIX_H)
    for gone in ("@id", "@type", "license", "attribution", "logo"):
        assert gone not in info, f"{gone} is not a 3.0 property"
    for k in ("maxWidth", "maxHeight", "maxArea"):
        assert isinstance(info.get(k, 1), int) and info.get(k, 1) > 0, (k, info.get(k))
    assert "maxHeight" not in info or "maxWidth" in info, "maxWidth MUST be given with maxHeight (5.2)"
    formats = set(info.get("extraFormats", []))
    assert {"gif", "tif", "webp"} <= formats, formats
    assert not formats & {"jp2", "pdf"}, "formats that are not produced must not be listed"
    qualities = set(info.get("extraQualities", []))
    assert {"color", "gray", "bitonal"} <= qualities <= {"color", "gray", "bitonal"}, qualities
    features = set(info.get("extraFeatures", []))
    assert features <= FEATURES_3, features - FEATURES_3
    assert {"mirroring", "rotationArbitrary", "profileLinkHeader", "canonicalLinkHeader", "sizeUpscaling"} <= features
    check_sizes_and_tiles(client, IMG3, info, "3")


def test_info_v3_upscaling_declares_a_limit(client):
    # 3.0 5.7: "A server that supports sizeUpscaling MUST specify maxWidth or maxArea"
    info = client.get(f"{IMG3}/info.json").json()
    if "sizeUpscaling" in info.get("extraFeatures", []):
        assert "maxWidth" in info or "maxArea" in info, "sizeUpscaling listed without maxWidth/maxArea"


def test_info_v2(client):
    r = client.get(f"{IMG2}/info.json")
    assert r.status == 200
    info = r.json()
    assert info["@context"] == "http://iiif.io/api/image/2/context.json"
    assert info["@id"] == f"{client.base}{IMG2}"
    assert info.get("@type", "iiif:Image") == "iiif:Image"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert (info["width"], info["height"]) == (PIX_W, PIX_H)
    for gone in ("id", "type", "extraFormats", "extraQualities", "extraFeatures"):
        assert gone not in info, f"{gone} is not a 2.1 property"
    profile = info["profile"]
    assert isinstance(profile, list) and profile[0] == "http://iiif.io/api/image/2/level2.json"
    objs = [p for p in profile[1:] if isinstance(p, dict)]
    assert len(objs) == 1, profile
    p = objs[0]
    for k in ("@context", "@id"):
        assert k not in p, f"{k} SHOULD NOT be in an embedded profile (5.3)"
    assert {"gif", "tif", "webp"} <= set(p.get("formats", [])), p
    assert not set(p.get("formats", [])) & {"jp2", "pdf"}
    assert set(p.get("qualities", [])) <= {"default", "color", "gray", "bitonal"}
    supports = set(p.get("supports", []))
    assert {"mirroring", "rotationArbitrary", "regionSquare", "profileLinkHeader", "canonicalLinkHeader", "sizeAboveFull"} <= supports, supports
    for k in ("maxWidth", "maxHeight", "maxArea"):
        assert k not in info, f"2.1 puts {k} in the profile object, not at the top level"
    assert "maxHeight" not in p or "maxWidth" in p, "maxWidth MUST be given with maxHeight (5.3)"
    check_sizes_and_tiles(client, IMG2, info, "2")


def test_info_v3_limits_and_public_base(limited):
    info = limited.get(f"{IMG3}/info.json").json()
    assert info["id"] == f"{PUBLIC_BASE}{IMG3}"
    for k, v in LIMITS.items():
        assert info.get(k) == v, (k, info.get(k))
    check_sizes_and_tiles(limited, IMG3, info, "3", LIMITS)


def test_info_v2_limits_and_public_base(limited):
    info = limited.get(f"{IMG2}/info.json").json()
    assert info["@id"] == f"{PUBLIC_BASE}{IMG2}"
    p = [x for x in info["profile"][1:] if isinstance(x, dict)][0]
    for k, v in LIMITS.items():
        assert p.get(k) == v, (k, p)
    check_sizes_and_tiles(limited, IMG2, info, "2", LIMITS)


def test_public_base_in_canonical_link(limited):
    r = limited.get(f"{IMG3}/full/400,/0/default.jpg")
    links = parse_links(r.header_all("Link"))
    assert links.get("canonical") == f"{PUBLIC_BASE}{IMG3}/full/400,280/0/default.jpg"


def test_public_base_in_redirect(limited):
    r = limited.get(IMG3)
    assert r.status == 303
    assert urljoin(f"{PUBLIC_BASE}{IMG3}", r.header("Location")) == f"{PUBLIC_BASE}{IMG3}/info.json"


@pytest.mark.parametrize(
    "headers,base",
    [
        ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "iiif.example.com"}, "https://iiif.example.com"),
        ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "iiif.example.com:8443"}, "https://iiif.example.com:8443"),
        ({"X-Forwarded-Host": "proxy.example.com"}, "http://proxy.example.com"),
        ({"Forwarded": 'for=192.0.2.1;proto=https;host="fw.example.com"'}, "https://fw.example.com"),
        ({"Host": "alias.example.com:8080"}, "http://alias.example.com:8080"),
    ],
)
def test_forwarded_headers_in_ids_from_a_trusted_proxy(trusted, headers, base):
    assert trusted.get(f"{IMG3}/info.json", headers=headers).json()["id"] == f"{base}{IMG3}"
    assert trusted.get(f"{IMG2}/info.json", headers=headers).json()["@id"] == f"{base}{IMG2}"


def test_forwarded_proto_only(trusted):
    info = trusted.get(f"{IMG3}/info.json", headers={"X-Forwarded-Proto": "https"}).json()
    assert info["id"] == f"https://127.0.0.1:{trusted.port}{IMG3}"


def test_host_names_ids_when_no_proxy_is_trusted(client):
    info = client.get(f"{IMG3}/info.json", headers={"Host": "alias.example.com:8080"}).json()
    assert info["id"] == f"http://alias.example.com:8080{IMG3}"


# -------------------------------------------------------------------------------- identifiers

IDENTS = {
    "no-extension": ("pixels", (PIX_W, PIX_H)),
    "with-extension": ("pixels.png", (PIX_W, PIX_H)),
    "escaped-dash": ("pixels%2Dstriped", (PIX_W, PIX_H)),
    "validator-id": (VALIDATOR_ID, (1000, 1000)),
    "space": ("with%20space", (500, 500)),
    "space-ext": ("with%20space.png", (500, 500)),
    "subfolder-escaped": ("lax:13410%2Felife-13410-fig4-v2.tif", (600, 1200)),
    "subfolder-escaped-lower": ("lax:13410%2felife-13410-fig4-v2.tif", (600, 1200)),
    "subfolder-escaped-noext": ("lax:13410%2Felife-13410-fig4-v2", (600, 1200)),
    "subfolder-colon-escaped": ("lax%3A13410%2Felife-13410-fig4-v2.tif", (600, 1200)),
    "dup-explicit": ("dup.png", (64, 64)),
}


@pytest.mark.parametrize("name", list(IDENTS))
@pytest.mark.parametrize("version", ["3", "2"])
def test_identifier_forms(client, name, version):
    ident, size = IDENTS[name]
    r = client.get(f"/iiif/{version}/{ident}/info.json")
    assert r.status == 200, r
    info = r.json()
    assert (info["width"], info["height"]) == size
    q = "max" if version == "3" else "full"
    img = client.get(f"/iiif/{version}/{ident}/full/{q}/0/default.png").image()
    assert img.size == size


def test_info_id_keeps_the_requested_identifier(client):
    assert client.get("/iiif/3/pixels.png/info.json").json()["id"] == f"{client.base}/iiif/3/pixels.png"
    info = client.get("/iiif/3/lax:13410%2Felife-13410-fig4-v2.tif/info.json").json()
    # the identifier must stay one path segment: its slash stays encoded in the id
    assert re.fullmatch(
        re.escape(f"{client.base}/iiif/3/lax") + "(:|%3A)13410%2[Ff]elife-13410-fig4-v2.tif", info["id"]
    ), info["id"]


@pytest.mark.parametrize("version", ["3", "2"])
def test_subfolder_raw_slashes(client, version):
    ident = "lax:13410/elife-13410-fig4-v2.tif"
    r = client.get(f"/iiif/{version}/{ident}/info.json")
    assert r.status == 200, r
    assert (r.json()["width"], r.json()["height"]) == (600, 1200)
    r = client.get(f"/iiif/{version}/{ident}/full/,1000/0/default.jpg")
    assert r.status == 200, r
    assert r.image().size == (500, 1000)
    r = client.get(f"/iiif/{version}/lax:13410/elife-13410-fig4-v2/full/,500/90/default.jpg")
    assert r.status == 200, r
    assert r.image().size == (500, 250)


@pytest.mark.parametrize("version", ["3", "2"])
def test_ambiguous_identifier_404(client, version):
    assert client.get(f"/iiif/{version}/dup/info.json").status == 404
    assert client.get(f"/iiif/{version}/dup/full/max/0/default.jpg").status == 404
    assert client.get(f"/iiif/{version}/dup.jpg/info.json").status == 200


def test_escaped_slash_to_missing_file_404(client):
    assert client.get("/iiif/3/a%2Fb/full/max/0/default.jpg").status == 404


def test_unescaped_brackets(client):
    # the validator's id_error_unescaped: 400 or 404
    assert client.get("/iiif/3/[frob]/full/max/0/default.jpg").status in (400, 404)


def test_unknown_version_prefix(client):
    assert client.get("/iiif/4/pixels/info.json").status == 404
    assert client.get("/iiif/1/pixels/info.json").status == 404
