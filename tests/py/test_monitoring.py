"""The Prometheus alert rules (deploy/prometheus) and the Grafana dashboard (deploy/grafana): promtool checks
and unit-tests the rules; every metric they name is one a real Tessera exports at /metrics; and the
error-ratio alert fires on series taken from real scrapes of a Tessera answering 5xx, and clears once it
answers 2xx again.

promtool comes from Debian's `prometheus` package (scripts/test.sh installs it when missing)."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from PIL import Image

from conftest import REPO_ROOT, VALIDATOR_ID, Server

RULES = REPO_ROOT / "deploy" / "prometheus" / "tessera-alerts.yml"
RULE_TESTS = REPO_ROOT / "deploy" / "prometheus" / "tessera-alerts.test.yml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "tessera-dashboard.json"

# Standard metrics of the other exporters the rules and the dashboard use: Prometheus' own scrape health,
# blackbox_exporter's probe of /health/ready, node_exporter's CPU and filesystems.
EXTERNAL = {
    "up",
    "probe_success",
    "node_cpu_seconds_total",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_readonly",
}

PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
                "group_right", "inf", "nan"}


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is not installed (scripts/test.sh installs Debian's prometheus package)", pytrace=False)
    return found


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: label matchers, strings, ranges and grouping
    clauses removed, then every identifier that is not a function call or a keyword."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", e):
        if m.group(2) or m.group(1).lower() in PROMQL_WORDS:
            continue
        names.add(m.group(1))
    return names


def rule_exprs() -> dict[str, str]:
    doc = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for v in dash["templating"]["list"]:
        # Grafana's label_values(METRIC, LABEL): the metric is the first argument.
        if isinstance(v.get("query"), dict):
            m = re.fullmatch(r"label_values\((\w+),\s*\w+\)", v["query"]["query"])
            assert m, v["query"]
            exprs.append(m.group(1))
    return exprs


def scrape(server: Server) -> str:
    r = server.client.get("/metrics")
    assert r.status == 200, r
    return r.body.decode()


def samples(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$", line.strip())
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
            out.append((m.group(1), labels, float(m.group(4))))
    return out


def png_bytes(size=(300, 200), colour=(10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory):
    """A Tessera over a folder of good images and broken files (each answered 500)."""
    root = tmp_path_factory.mktemp("monitoring") / "images"
    root.mkdir()
    shutil.copy(REPO_ROOT / "images" / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    good = png_bytes()
    (root / "good.png").write_bytes(good)
    (root / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not a jpeg" * 40)
    (root / "empty.tif").write_bytes(b"II*\x00" + b"\x00" * 12)
    cache = root.parent / "cache"
    s = Server(root, ["--cache-dir", str(cache)], root.parent / "tessera.log")
    yield s
    s.stop()


def test_rules_pass_promtool_check_and_unit_tests():
    r = run_promtool("check", "rules", str(RULES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 12 rules found" in r.stdout, r.stdout
    r = run_promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout
    # Every alert has at least one unit test that expects it to fire.
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {a["alertname"] for t in tests for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
    assert fired == set(rule_exprs()), set(rule_exprs()) ^ fired


def test_the_name_extraction_is_not_vacuous():
    got = metric_names(
        'histogram_quantile(0.95, sum by (le, job) (rate(tessera_x_bucket{job=~"$job", route="image"}[5m])))'
        ' / on (instance) group_left count(node_cpu_seconds_total{mode="idle"}) > bool 2 and up == 0'
    )
    assert got == {"tessera_x_bucket", "node_cpu_seconds_total", "up"}, got


def test_every_metric_named_by_the_rules_and_dashboard_is_exported(failing_server):
    c = failing_server.client
    # Touch every route so each labelled family has series: info, a render, a broken image, a 404.
    assert c.get("/iiif/3/good.png/info.json").status == 200
    assert c.get("/iiif/3/good.png/full/100,/0/default.jpg").status == 200
    assert c.get("/iiif/3/cut.png/full/max/0/default.png").status == 500
    assert c.get("/iiif/3/no-such/info.json").status == 404
    text = scrape(failing_server)
    exported = {n for n, _, _ in samples(text)}
    histograms = set(re.findall(r"^# TYPE (\S+) histogram$", text, re.M))
    assert {"tessera_decode_duration_seconds", "tessera_request_duration_seconds"} <= histograms

    named: dict[str, str] = {}
    for alert, expr in rule_exprs().items():
        for n in metric_names(expr):
            named.setdefault(n, f"rule {alert}")
    for expr in dashboard_exprs():
        for n in metric_names(expr):
            named.setdefault(n, "the dashboard")
    tessera = {n for n in named if n.startswith("tessera_")}
    assert len(tessera) >= 12, sorted(named)
    missing = []
    for n, where in sorted(named.items()):
        if n in EXTERNAL:
            continue
        if n in exported:
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", n)
        if base in histograms and {f"{base}_bucket", f"{base}_sum", f"{base}_count"} <= exported:
            continue
        missing.append(f"{n} (in {where})")
    assert not missing, f"named but not exported by /metrics: {missing}"
    # The rules use the histograms through their buckets, as Prometheus stores them.
    assert "tessera_decode_duration_seconds_bucket" in named
    assert "tessera_request_duration_seconds_bucket" in named


def test_dashboard_panels_are_well_formed():
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = " / ".join(p["title"] for p in dash["panels"])
    for want in ["Requests by route", "Error responses", "p50 / p95 / p99", "Cache hit ratio per tier",
                 "Coalesced and rejected", "Render time by format", "Bytes from sources"]:
        assert want in titles, titles
    for p in dash["panels"]:
        for t in p.get("targets", []):
            assert t["expr"].strip() and t["refId"], p["title"]


def series_key(name: str, labels: dict) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def test_error_ratio_rule_fires_on_real_scrapes_of_a_failing_tessera(failing_server, tmp_path):
    """Eight one-minute scrapes while a third of image and info.json requests fail, then eight while
    none does: the scraped tessera_requests_total series, fed to promtool with the shipped rule file,
    make TesseraHighErrorRatio fire during the failures and clear after them."""
    c = failing_server.client
    scrapes = []
    bad = ["/iiif/3/garbage.jpg/info.json", "/iiif/3/cut.png/full/80,/0/default.jpg", "/iiif/3/empty.tif/info.json"]
    good = ["/iiif/3/good.png/info.json", "/iiif/3/good.png/full/120,/0/default.jpg",
            "/iiif/3/good.png/full/60,/0/default.png", "/iiif/3/good.png/full/max/0/default.jpg",
            f"/iiif/3/{VALIDATOR_ID}/info.json", "/iiif/3/good.png/square/50,/0/default.jpg"]
    for phase in ("failing", "healthy"):
        for _ in range(8):
            for path in good:
                assert c.get(path).status == 200, path
            if phase == "failing":
                for path in bad:
                    r = c.get(path)
                    assert 500 <= r.status < 600, r
            scrapes.append(samples(scrape(failing_server)))
    target = {"job": "tessera", "instance": f"127.0.0.1:{failing_server.port}"}
    series: dict[str, list[float]] = {}
    for i, s in enumerate(scrapes):
        for name, labels, value in s:
            if name != "tessera_requests_total":
                continue
            key = series_key(name, {**labels, **target})
            series.setdefault(key, [float("nan")] * i).append(value)
    assert any('class="5xx"' in k and 'route="info"' in k for k in series), list(series)
    assert any('class="5xx"' in k and 'route="image"' in k for k in series), list(series)
    input_series = [
        {"series": k, "values": " ".join("_" if v != v else repr(v) for v in vs)} for k, vs in series.items()
    ]
    rule = next(r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
                if r["alert"] == "TesseraHighErrorRatio")
    description = rule["annotations"]["description"].replace("{{ $labels.job }}", "tessera")
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input_series,
            "promql_expr_test": [{
                # 3 of every 9 image and info.json requests failed during the first phase.
                "expr": f"round(1000 * ({rule['expr'].strip().rsplit('>', 1)[0]}))",
                "eval_time": "7m",
                "exp_samples": [{"labels": '{job="tessera"}', "value": 333}],
            }],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "TesseraHighErrorRatio", "exp_alerts": []},
                {"eval_time": "7m", "alertname": "TesseraHighErrorRatio", "exp_alerts": [{
                    "exp_labels": {"severity": "page", "job": "tessera"},
                    "exp_annotations": {
                        "summary": "33.33% of image and info.json requests fail with 5xx",
                        "description": description,
                    },
                }]},
                {"eval_time": "15m", "alertname": "TesseraHighErrorRatio", "exp_alerts": []},
            ],
        }],
    }
    path = tmp_path / "scraped.test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    r = run_promtool("test", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
