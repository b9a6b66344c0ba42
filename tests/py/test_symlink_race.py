"""A symlink swapped in and out of the image folder while requests run must never get a file from
outside the folder served: not its pixels, not its size.

One thread keeps replacing `race.png` (with os.replace, atomically) by, in turn, a hard link to the
in-root image (a regular file, the state in which a check-then-open server passes its check), a
relative symlink to it, an absolute symlink to an outside image and a `../` symlink to it; and the
folder `swap` by a symlink to an outside folder and back. The outside image differs in size
and colour. Other threads request `info.json` and `full/max` of both identifiers for 15 s and check every
answer: 404, or 200 with the inside image's size and pixels (decoded by Pillow).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import REPO_ROOT, VALIDATOR_ID, Server

RACE_SECONDS = 15
INSIDE_SIZE, INSIDE_RGB = (400, 300), (20, 200, 40)
OUTSIDE_SIZE, OUTSIDE_RGB = (257, 131), (230, 10, 10)
# Without an extension, every extension is tried: a longer window between a check and an open.
IDENTIFIERS = ("race", "race.png", "swap%2Fd")


@pytest.fixture
def race_tree(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "swap").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(REPO_ROOT / "images" / f"{VALIDATOR_ID}.png", root / f"{VALIDATOR_ID}.png")
    Image.new("RGB", INSIDE_SIZE, INSIDE_RGB).save(root / "inside.png")
    Image.new("RGB", INSIDE_SIZE, INSIDE_RGB).save(root / "swap" / "d.png")
    Image.new("RGB", OUTSIDE_SIZE, OUTSIDE_RGB).save(outside / "secret.png")
    Image.new("RGB", OUTSIDE_SIZE, OUTSIDE_RGB).save(outside / "d.png")
    os.symlink("inside.png", root / "race.png")
    return root, outside


def swap_forever(root: Path, outside: Path, stop, swaps) -> None:
    """Cycle race.png and swap/ between inside and outside targets until `stop` is set. Outside states
    mostly follow a real-file (or real-folder) state, the one a check-then-open server lets through."""
    tmp, race, inside = str(root / ".swap-tmp"), str(root / "race.png"), str(root / "inside.png")
    folder, parked = str(root / "swap"), str(root / "parked")
    states = [
        ("link", inside),
        ("symlink", str(outside / "secret.png")),
        ("link", inside),
        ("symlink", "../outside/secret.png"),
        ("symlink", "inside.png"),
        ("symlink", str(outside / "secret.png")),
    ]
    i = 0
    while not stop.is_set():
        for kind, target in states:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            (os.link if kind == "link" else os.symlink)(target, tmp)
            os.replace(tmp, race)
        # swap/ becomes a symlink to the outside folder, then the real folder again.
        os.symlink(str(outside) if i % 2 == 0 else "../outside", tmp)
        os.rename(folder, parked)
        os.replace(tmp, folder)
        os.unlink(folder)
        os.rename(parked, folder)
        i += 1
    swaps.value = i * (len(states) + 1)


def check_answer(client, path: str) -> tuple[str, str | None]:
    """Request `path`; return (outcome, violation or None)."""
    r = client.get(path, timeout=30)
    if r.status == 404:
        return "404", None
    if r.status != 200:
        return str(r.status), f"{path}: unexpected {r!r}"
    if path.endswith("info.json"):
        size = (r.json()["width"], r.json()["height"])
        if size != INSIDE_SIZE:
            return "200", f"{path}: size {size} (outside is {OUTSIDE_SIZE})"
        return "200", None
    img = Image.open(io.BytesIO(r.body)).convert("RGB")
    # `full/128,` of the inside image is 128x96 (of the outside one it would be 128x65).
    expected = (128, 96) if "/128,/" in path else INSIDE_SIZE
    if img.size != expected:
        return "200", f"{path}: image of {img.size}, not {expected} (outside is {OUTSIDE_SIZE})"
    w, h = img.size
    worst = max(
        abs(a - b)
        for px in (img.getpixel((0, 0)), img.getpixel((w - 1, h - 1)), img.getpixel((w // 2, h // 2)))
        for a, b in zip(px, INSIDE_RGB)
    )
    if worst > 2:
        return "200", f"{path}: pixels off by {worst} from the inside image"
    return "200", None


def test_swapped_symlinks_never_serve_outside_files(race_tree, tmp_path, report):
    root, outside = race_tree
    # Caches off, so that every request opens the file again (each open is a chance to race).
    config = tmp_path / "race.toml"
    config.write_text("[cache]\nmemory_max_bytes = 0\ninfo_entries = 0\nopen_readers = 0\n")
    server = Server(root, ["--config", str(config)], tmp_path / "race.log")
    try:
        client = server.client
        # Before the race: both identifiers answer with the inside image, and the outside image is
        # told apart by size and colour (so the checks below can fail).
        for ident in IDENTIFIERS:
            for tail in ("info.json", "full/max/0/default.png"):
                assert check_answer(client, f"/iiif/3/{ident}/{tail}") == ("200", None)
        stop = threading.Event()
        # The swapper runs in its own process, at full speed (not sharing the requesters' GIL).
        stop_swapping = multiprocessing.Event()
        swaps = multiprocessing.Value("q", 0)
        outcomes: dict[str, int] = {}
        violations: list[str] = []
        lock = threading.Lock()

        def requester(n: int) -> None:
            k = n
            while not stop.is_set():
                ident = IDENTIFIERS[k % len(IDENTIFIERS)]
                tail = ("info.json", "full/max/0/default.png", "full/128,/0/default.png")[(k // 3) % 3]
                outcome, violation = check_answer(client, f"/iiif/3/{ident}/{tail}")
                with lock:
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                    if violation:
                        violations.append(violation)
                k += 1

        swapper = multiprocessing.Process(target=swap_forever, args=(root, outside, stop_swapping, swaps))
        workers = [threading.Thread(target=requester, args=(n,)) for n in range(4)]
        swapper.start()
        for w in workers:
            w.start()
        time.sleep(RACE_SECONDS)
        stop.set()
        stop_swapping.set()
        swapper.join(timeout=30)
        for w in workers:
            w.join()
        report(f"symlink race: {swaps.value} swaps, responses {dict(sorted(outcomes.items()))}")
        assert not violations, f"{len(violations)} bad answers, first: {violations[:5]}"
        assert outcomes.get("200", 0) > 0 and outcomes.get("404", 0) > 0, outcomes
        assert set(outcomes) <= {"200", "404"}, outcomes
        assert server.alive()
        # The outside files are untouched, and nothing was written outside the cache folder.
        assert sorted(p.name for p in outside.iterdir()) == ["d.png", "secret.png"]
    finally:
        server.stop()
