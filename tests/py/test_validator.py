"""The official IIIF Image API validator (PyPI iiif-validator, pinned in tests/requirements.txt), run
as its command line tool `iiif-validate.py` against the real binary.

For each API version it runs twice: once with `--level 2` (every test of level 0..2 for that
version) and once with `--test NAME ...` for the optional (level 3) tests whose features Tessera
claims. Its output lines `[n] test NAME PASS|FAIL` are parsed; each validator test is one pytest
item here, so a failure names the validator test and shows the validator's own explanation.

Not run: format_jp2 and format_pdf (Tessera does not claim those output formats), info_xml and
format_conneg (1.x only), region_square for 2.x (the validator only lists it for "2.1", a version
string its URL builder does not support; the square region is checked in test_http/test_pixels).
format_webp is broken in iiif-validator 1.0.5 under Python 3 (it calls urllib.urlopen and compares
bytes with a str), so the same check (RIFF....WEBP magic) is done here by test_webp_magic.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HOST, VALIDATOR_ID

OPTIONAL = [
    "format_gif",
    "format_tif",
    "rot_full_non90",
    "rot_region_non90",
    "rot_mirror",
    "rot_mirror_180",
    "size_up",
    "linkheader_canonical",
    "linkheader_profile",
]
BROKEN_IN_VALIDATOR = {"format_webp": "iiif-validator 1.0.5 uses urllib.urlopen (Python 2 only)"}
NOT_CLAIMED = {"format_jp2", "format_pdf"}
VERSIONS = {"3.0": "iiif/3", "2.0": "iiif/2"}


def validator_script() -> list[str]:
    here = Path(sys.executable).parent / "iiif-validate.py"
    if here.is_file():
        return [sys.executable, str(here)]
    found = shutil.which("iiif-validate.py")
    if found:
        return [sys.executable, found]
    pytest.fail("iiif-validate.py not found (pip install -r tests/requirements.txt)", pytrace=False)


def listed_tests(version: str) -> dict[str, dict]:
    from iiif_validator.validator import TestSuite, ValidationInfo

    return TestSuite(ValidationInfo()).list_tests(version)


def expected_tests(version: str) -> list[str]:
    tests = listed_tests(version)
    level2 = [n for n, t in tests.items() if t["level"] <= 2]
    optional = [n for n in OPTIONAL if n in tests]
    return sorted(level2) + optional


LINE = re.compile(r"^\[(\d+)\] test (\S+) (PASS|FAIL)$")


def run_validator(port: int, version: str, args: list[str], prefix: str | None = None) -> dict:
    """Run the validator against the service at `prefix` (default: the version's default mount;
    `""` for the root)."""
    cmd = [
        *validator_script(),
        "-s", f"{HOST}:{port}",
        "-p", VERSIONS[version] if prefix is None else prefix,
        "-i", VALIDATOR_ID,
        f"--version={version}",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = proc.stderr + proc.stdout
    results: dict[str, dict] = {}
    current = None
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if m:
            current = m.group(2)
            results[current] = {"status": m.group(3), "detail": []}
        elif current and line.startswith("  "):
            results[current]["detail"].append(line.strip())
    done = re.search(r"Done \((\d+) tests, (\d+) failures\)", out)
    return {"cmd": cmd, "rc": proc.returncode, "results": results, "output": out, "done": done.group(0) if done else None}


@pytest.fixture(scope="module")
def validator_runs(server, report):
    runs = {}
    for version in VERSIONS:
        level = run_validator(server.port, version, ["--level", "2"])
        opt_names = [n for n in OPTIONAL if n in listed_tests(version)]
        opt = run_validator(server.port, version, [a for n in opt_names for a in ("--test", n)])
        merged = {**level["results"], **opt["results"]}
        runs[version] = {"results": merged, "runs": [level, opt]}
        passed = sum(1 for r in merged.values() if r["status"] == "PASS")
        report(
            f"iiif-validator {version}: {passed}/{len(merged)} passed "
            f"(level 2: {level['done']}; optional: {opt['done']})"
        )
        for name, r in sorted(merged.items()):
            if r["status"] != "PASS":
                report(f"  FAIL {version} {name}: " + " | ".join(r["detail"])[:600])
    return runs


PARAMS = [(v, n) for v in VERSIONS for n in expected_tests(v)]


@pytest.mark.parametrize("version,name", PARAMS, ids=[f"{v}-{n}" for v, n in PARAMS])
def test_validator(validator_runs, version, name):
    run = validator_runs[version]
    result = run["results"].get(name)
    if result is None:
        outputs = "\n".join(r["output"][-1500:] for r in run["runs"])
        pytest.fail(f"validator did not report {name}; output:\n{outputs}")
    assert result["status"] == "PASS", "\n".join(result["detail"])


def test_validator_exit_codes(validator_runs):
    for version, run in validator_runs.items():
        for r in run["runs"]:
            assert r["done"] is not None, r["output"][-2000:]
            assert r["rc"] == 0, f"{version}: {r['done']}"


def test_no_test_forgotten():
    # Everything the validator lists for these versions is either run, or skipped for a stated reason.
    for version in VERSIONS:
        listed = set(listed_tests(version))
        covered = set(expected_tests(version)) | set(BROKEN_IN_VALIDATOR) | NOT_CLAIMED
        assert listed <= covered, f"{version}: not run and not explained: {sorted(listed - covered)}"


@pytest.mark.parametrize("prefix,size", [("iiif/3", "max"), ("iiif/2", "full")])
def test_webp_magic(client, prefix, size):
    """What the validator's format_webp would check if it ran on Python 3."""
    r = client.get(f"/{prefix}/{VALIDATOR_ID}/full/{size}/0/default.webp")
    assert r.status == 200, r
    assert r.body[:4] == b"RIFF" and r.body[8:12] == b"WEBP"
