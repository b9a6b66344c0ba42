#!/usr/bin/env python3
"""Compare a `tessera check --report` JSON report of ../shared/corpus with the corpus manifest.

Every `ok` file must have been served (info.json and the sample resize) with the manifest's size
(width and height swapped when the file carries an EXIF or TIFF orientation of 5-8, which Tessera
applies);
every `must-error` file must have given a clean error (any cause but a panic). Rows listed in
KNOWN are reported but do not fail the run; each says why. Standard library only.

usage: corpus_check.py REPORT.json MANIFEST.tsv [--exit-code N] [--seconds S]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter

# Formats Tessera does not read yet (manifest format -> why): not part of this check's pass/fail.
# Empty: every format in the manifest is read.
KNOWN_FORMATS: dict[str, str] = {}
# Single files whose manifest verdict conflicts with another row's; the reason is printed.
KNOWN = {
    "jpeg/ultrahdr-gainmap__pillow-ultrahdr.jpg": (
        "the primary image has no entropy-coded data at all (its scan header sits 14 bytes before "
        "the end of the file); libvips fills it with grey, which `broken/truncated_jpeg` forbids"
    ),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("manifest")
    ap.add_argument("--exit-code", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    args = ap.parse_args()

    with open(args.report, encoding="utf-8") as f:
        report = {o["identifier"]: o for o in json.load(f)}
    with open(args.manifest, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))

    tally: Counter[str] = Counter()
    failures: list[str] = []
    known: list[str] = []
    for row in rows:
        path, expected = row["path"], row["expected"]
        got = report.get(path)
        if got is None:
            failures.append(f"{path}: missing from the report")
            continue
        ok = got["status"] == "ok"
        verdict = ""
        if expected == "ok":
            want = (int(row["width"]), int(row["height"]))
            if re.search(r"orientation[ =]*[5-8]\b", row["notes"]):
                want = (want[1], want[0])
            have = (got.get("width"), got.get("height"))
            if not ok:
                verdict = f"expected ok, got error: {got.get('error')}"
            elif have != want:
                verdict = f"served as {have[0]}x{have[1]}, manifest says {want[0]}x{want[1]}"
        elif expected == "must-error":
            if ok:
                verdict = "expected an error, but it was served"
            elif got.get("cause") == "panic":
                verdict = f"errored by panicking: {got.get('error')}"
        if not verdict:
            tally[f"{expected} as expected"] += 1
        elif path in KNOWN or row["format"] in KNOWN_FORMATS:
            tally[f"{expected}, known gap"] += 1
            known.append(f"{path}: {verdict} [{KNOWN.get(path) or KNOWN_FORMATS[row['format']]}]")
        else:
            tally[f"{expected}, MISMATCH"] += 1
            failures.append(f"{path}: {verdict}")

    causes = Counter(o.get("cause") or "ok" for o in report.values())
    print(f"corpus check: {len(rows)} manifest rows, {len(report)} images checked"
          + (f" in {args.seconds:.1f} s" if args.seconds is not None else ""))
    for k, n in sorted(tally.items()):
        print(f"  {n:4d}  {k}")
    print("  outcomes by cause: " + ", ".join(f"{k} {n}" for k, n in sorted(causes.items())))
    for line in known:
        print(f"  known: {line}")
    for line in failures:
        print(f"  FAIL: {line}")
    any_error = any(o["status"] == "error" for o in report.values())
    if args.exit_code is not None and args.exit_code != (1 if any_error else 0):
        print(f"  FAIL: tessera check exited {args.exit_code}, expected {1 if any_error else 0}")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
