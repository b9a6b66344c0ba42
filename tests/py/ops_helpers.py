"""Helpers for the caching and operations tests: metrics, config files, big images, cache folders."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$")


def metrics(client) -> list[tuple[str, dict, float]]:
    """All samples of /metrics as (name, labels, value)."""
    r = client.get("/metrics")
    assert r.status == 200, r
    out = []
    for line in r.body.decode().splitlines():
        m = _SAMPLE.match(line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def metric(client, name: str, **labels) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for n, ls, v in metrics(client) if n == name and all(ls.get(k) == w for k, w in labels.items()))


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def cache_files(cache_dir: Path) -> list[Path]:
    """Cached derivatives (not temporary files)."""
    return [p for p in cache_dir.glob("*/*.bin") if p.is_file()]


def cache_bytes(cache_dir: Path) -> int:
    """Bytes of every file under the cache folder, temporary ones included."""
    return sum(p.stat().st_size for p in cache_dir.rglob("*") if p.is_file())


def make_big_image(path: Path, side: int = 3000) -> None:
    """A large, poorly compressible RGB PNG: renders of it take real time."""
    g = Image.linear_gradient("L").resize((side, side))
    noise = Image.effect_noise((side, side), 60)
    Image.merge("RGB", (g, noise, g.transpose(Image.Transpose.ROTATE_90))).save(path, compress_level=1)
