"""`tessera check --compare-with URL` and `--baseline FILE`: two Tessera processes that differ only in
`colour.icc` (`keep` against `srgb`) over a folder with a Display-P3 PNG and untagged images. Exactly the
tagged image is reported as changed, with a mean difference that Pillow measures independently on the
two servers' renditions; a baseline report of the first server gives the same verdict, in process too;
the same server against itself, or a tolerance above the difference, reports nothing and exits 0."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from PIL import Image

from conftest import CORPUS, REPO_ROOT, VALIDATOR_ID, Server, make_pixels_image, tessera_bin

P3 = CORPUS / "png" / "rgb8_icc_display-p3__libjxl-P3-sRGB-color-bars.png"
CHANGED = re.compile(r"^changed  (\S+) \[(\w+)\] (rendition|status|info size|output size): (.*)$", re.M)
DIFF = re.compile(r"mean difference ([\d.]+) > ([\d.]+) \(r ([\d.]+), g ([\d.]+), b ([\d.]+)\)")


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(tessera_bin()), "check", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not P3.is_file():
        pytest.fail(f"the Display-P3 test image {P3} is missing (the shared corpus)", pytrace=False)
    work = tmp_path_factory.mktemp("compare")
    root = work / "images"
    root.mkdir()
    shutil.copy(P3, root / "p3-bars.png")
    shutil.copy(REPO_ROOT / "images" / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    pixels = make_pixels_image()
    pixels.save(root / "untagged.png")
    pixels.resize((1600, 1120)).save(root / "untagged-big.jpg", quality=90)
    with Image.open(P3) as im:
        assert "icc_profile" in im.info, "the corpus image must carry its Display-P3 profile"
    for name in ("untagged.png", "untagged-big.jpg", f"{VALIDATOR_ID}.png"):
        with Image.open(root / name) as im:
            assert "icc_profile" not in im.info, name
    keep = work / "keep.toml"
    keep.write_text('[colour]\nicc = "keep"\n')
    srgb = work / "srgb.toml"
    srgb.write_text('[colour]\nicc = "srgb"\n')
    a = Server(root, ["--config", str(keep)], work / "a.log")
    b = Server(root, ["--config", str(srgb)], work / "b.log")
    yield {"root": root, "work": work, "a": a, "b": b, "srgb": srgb}
    a.stop()
    b.stop()


def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}/iiif/3"


def changes(stdout: str) -> dict[str, tuple[str, str, str]]:
    return {m.group(1): (m.group(2), m.group(3), m.group(4)) for m in CHANGED.finditer(stdout)}


def box32(img: Image.Image) -> list[tuple[int, int, int]]:
    return list(img.convert("RGB").resize((32, 32), Image.Resampling.BOX).getdata())


def pillow_difference(a: Server, b: Server, identifier: str) -> list[float]:
    """Mean absolute difference per channel of the two servers' 32x32 box-averaged sample renditions."""
    path = f"/iiif/3/{identifier}/full/max/0/default.jpg"  # the sample for a 1000x800 image
    ra, rb = a.client.get(path), b.client.get(path)
    assert ra.status == 200 and rb.status == 200, (ra, rb)
    pa, pb = box32(ra.image()), box32(rb.image())
    return [sum(abs(x[c] - y[c]) for x, y in zip(pa, pb)) / len(pa) for c in range(3)]


def test_compare_with_reports_exactly_the_tagged_image(setup):
    a, b = setup["a"], setup["b"]
    report = setup["work"] / "b.json"
    r = run_check(str(setup["root"]), "--server", base(b), "--compare-with", base(a), "--report", str(report))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "compared 4 images with " + base(a) + " (tolerance 3): 3 unchanged, 1 changed" in r.stdout, r.stdout
    found = changes(r.stdout)
    assert list(found) == ["p3-bars.png"], r.stdout
    fmt, cause, detail = found["p3-bars.png"]
    assert (fmt, cause) == ("png", "rendition"), detail
    assert re.search(r"^\s+1  rendition\s+png$", r.stdout, re.M), r.stdout
    m = DIFF.search(detail)
    assert m, detail
    largest, channels = float(m.group(1)), [float(m.group(i)) for i in (3, 4, 5)]
    assert largest == max(channels) and largest > 3.0
    # Pillow, on the very renditions the two servers send: the same difference within a level
    # (Pillow's box filter weighs the pixels a cell edge cuts through; Tessera's cells take whole pixels).
    independent = pillow_difference(a, b, "p3-bars.png")
    assert all(abs(x - y) < 1.0 for x, y in zip(channels, independent)), (channels, independent)
    # The untagged images render identically on both.
    for identifier in ("untagged.png", "untagged-big.jpg"):
        assert max(pillow_difference(a, b, identifier)) < 0.5, identifier
    # The report of the new server carries the fingerprints a later --baseline run compares with.
    rows = {o["identifier"]: o for o in json.loads(report.read_text())}
    fp = rows["p3-bars.png"]["fingerprint"]
    assert fp["side"] == 32 and len(fp["rgb"]) == 32 * 32 * 3 * 2


def test_baseline_from_a_report_gives_the_same_verdict(setup):
    a, b = setup["a"], setup["b"]
    baseline = setup["work"] / "a.json"
    r = run_check(str(setup["root"]), "--server", base(a), "--report", str(baseline))
    assert r.returncode == 0, r.stdout + r.stderr
    live = run_check(str(setup["root"]), "--server", base(b), "--compare-with", base(a))
    r = run_check(str(setup["root"]), "--server", base(b), "--baseline", str(baseline))
    assert r.returncode == 1, r.stdout + r.stderr
    assert changes(r.stdout) == changes(live.stdout), (r.stdout, live.stdout)
    # In process, with B's settings: the same image changes (same pipeline, so the same difference).
    r = run_check(str(setup["root"]), "--config", str(setup["srgb"]), "--baseline", str(baseline))
    assert r.returncode == 1, r.stdout + r.stderr
    found = changes(r.stdout)
    assert list(found) == ["p3-bars.png"] and found["p3-bars.png"][1] == "rendition", r.stdout
    same, other = DIFF.search(found["p3-bars.png"][2]), DIFF.search(changes(live.stdout)["p3-bars.png"][2])
    assert same and other and abs(float(same.group(1)) - float(other.group(1))) < 0.5


def test_no_change_exits_zero(setup):
    a, b = setup["a"], setup["b"]
    baseline = setup["work"] / "a-again.json"
    assert run_check(str(setup["root"]), "--server", base(a), "--report", str(baseline)).returncode == 0
    r = run_check(str(setup["root"]), "--server", base(a), "--baseline", str(baseline))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 unchanged, 0 changed" in r.stdout and not changes(r.stdout), r.stdout
    assert "largest difference within tolerance: 0.0" in r.stdout, r.stdout
    r = run_check(str(setup["root"]), "--server", base(b), "--compare-with", base(a), "--tolerance", "200")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 changed" in r.stdout, r.stdout


def test_status_and_size_changes_are_reported(setup, tmp_path):
    """A baseline where one image failed and another had another size: both are reported, by cause."""
    baseline = setup["work"] / "a.json"
    if not baseline.is_file():
        assert run_check(str(setup["root"]), "--server", base(setup["a"]), "--report", str(baseline)).returncode == 0
    rows = json.loads(baseline.read_text())
    for o in rows:
        if o["identifier"] == "untagged.png":
            o.update(status="error", cause="corrupt (png)", error="broken", fingerprint=None)
        if o["identifier"] == "untagged-big.jpg":
            o.update(width=1120, height=1600)
    rows.append(dict(rows[0], identifier="gone.tif"))
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(rows))
    r = run_check(str(setup["root"]), "--server", base(setup["a"]), "--baseline", str(edited))
    assert r.returncode == 1, r.stdout + r.stderr
    found = changes(r.stdout)
    assert found["untagged.png"][1] == "status" and "error (corrupt (png): broken) → ok" in found["untagged.png"][2]
    assert found["untagged-big.jpg"][:2] == ("jpg", "info size")
    assert "1120x1600 → 1600x1120" in found["untagged-big.jpg"][2]
    assert re.search(r"^changed  gone\.tif \[tif\] not checked now: ", r.stdout, re.M), r.stdout


def test_bad_baselines_are_refused_before_checking(setup, tmp_path):
    missing = run_check(str(setup["root"]), "--baseline", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "reading the baseline" in missing.stderr, missing.stderr
    assert "checked" not in missing.stdout
    csv = tmp_path / "report.csv"
    csv.write_text("identifier,status\nx,ok\n")
    r = run_check(str(setup["root"]), "--baseline", str(csv))
    assert r.returncode == 1 and "is not a JSON report of tessera check" in r.stderr, r.stderr
    r = run_check(str(setup["root"]), "--tolerance=-1", "--baseline", str(csv))
    assert r.returncode == 1 and "--tolerance must be" in r.stderr, r.stderr
