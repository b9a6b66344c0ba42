"""`tessera check`: folder and list sources, JSON and CSV reports, exit status, and --server mode
against the running test server."""

from __future__ import annotations

import csv
import json
import subprocess

from PIL import Image

from conftest import tessera_bin


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(tessera_bin()), "check", *args], capture_output=True, text=True, timeout=120)


def make_folder(tmp_path):
    root = tmp_path / "collection"
    (root / "sub").mkdir(parents=True)
    Image.new("RGB", (1500, 600), (200, 10, 10)).save(root / "wide.png")
    Image.new("L", (300, 200), 77).save(root / "sub" / "gray.tif")
    good = root / "good.jpg"
    Image.new("RGB", (400, 300), (0, 90, 200)).save(good, quality=90)
    (root / "cut.jpg").write_bytes(good.read_bytes()[:300])
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_check_reports_json_and_fails_on_errors(tmp_path):
    root = make_folder(tmp_path)
    report = tmp_path / "report.json"
    r = run_check(str(root), "--report", str(report), "--jobs", "2")
    assert r.returncode == 1, r.stderr
    assert "4 images" in r.stdout and "3 ok, 1 error" in r.stdout, r.stdout
    rows = {o["identifier"]: o for o in json.loads(report.read_text())}
    assert set(rows) == {"wide.png", "sub/gray.tif", "good.jpg", "cut.jpg"}
    for o in rows.values():
        assert {"identifier", "status", "width", "height", "error", "format", "time_ms"} <= set(o)
    wide = rows["wide.png"]
    assert (wide["status"], wide["width"], wide["height"]) == ("ok", 1500, 600)
    assert (wide["output_width"], wide["output_height"]) == (1000, 400)
    assert wide["format"] == "png" or wide["format"].lower().startswith("png")
    cut = rows["cut.jpg"]
    assert cut["status"] == "error" and cut["error"] and cut["cause"].startswith("corrupt")


def test_list_check_writes_csv_and_succeeds(tmp_path):
    root = make_folder(tmp_path)
    ids = tmp_path / "ids.txt"
    ids.write_text("# two good ones\nwide\nsub/gray\n")
    report = tmp_path / "report.csv"
    r = run_check(str(ids), "--images", str(root), "--report", str(report))
    assert r.returncode == 0, r.stdout + r.stderr
    rows = list(csv.DictReader(report.open()))
    assert [(x["identifier"], x["status"], x["width"], x["height"]) for x in rows] == [
        ("wide", "ok", "1500", "600"),
        ("sub/gray", "ok", "300", "200"),
    ]


def test_server_mode_checks_over_http(server, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("pixels\nphoto\npalette\nno-such-image\n")
    report = tmp_path / "report.json"
    base = f"http://127.0.0.1:{server.port}/iiif/3"
    r = run_check(str(ids), "--server", base, "--report", str(report))
    assert r.returncode == 1, r.stdout + r.stderr
    rows = {o["identifier"]: o for o in json.loads(report.read_text())}
    assert rows["pixels"]["status"] == "ok"
    assert (rows["pixels"]["output_width"], rows["pixels"]["output_height"]) == (1000, 700)
    assert rows["photo"]["status"] == "ok" and rows["palette"]["status"] == "ok"
    assert rows["no-such-image"]["status"] == "error"
    assert rows["no-such-image"]["cause"] == "http 404"
    assert server.alive()
