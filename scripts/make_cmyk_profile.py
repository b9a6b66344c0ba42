"""Write crates/image/profiles/cmyk-chemical-proof.icc, Tessera's default CMYK profile.

The profile is libvips's built-in "cmyk" profile ("Chemical proof", created by Graeme W. Gill and
released into the public domain), the one libvips and sharp use for CMYK images without an embedded
profile. Its colour tags are kept byte for byte; the three text tags that carry the 734 KB of
characterisation data it was built from (targ, DevD, CIED) are dropped, which takes the file from
961 KB to 227 KB. Run with the test venv: `.venv/bin/python scripts/make_cmyk_profile.py`.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pyvips

DROPPED = {b"targ", b"DevD", b"CIED"}
OUT = Path(__file__).resolve().parent.parent / "crates/image/profiles/cmyk-chemical-proof.icc"


def tags(icc: bytes) -> list[tuple[bytes, int, int]]:
    """The tag table: (signature, offset, size) per tag."""
    (count,) = struct.unpack(">I", icc[128:132])
    return [struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i]) for i in range(count)]


def without(icc: bytes, dropped: set[bytes]) -> bytes:
    """`icc` rebuilt without the tags in `dropped`; shared tag data stays shared."""
    kept = [t for t in tags(icc) if t[0] not in dropped]
    body = bytearray()
    placed: dict[tuple[int, int], int] = {}
    start = 128 + 4 + 12 * len(kept)
    table = []
    for sig, off, size in kept:
        if (off, size) not in placed:
            while (start + len(body)) % 4:
                body.append(0)
            placed[(off, size)] = start + len(body)
            body += icc[off : off + size]
        table.append(struct.pack(">4sII", sig, placed[(off, size)], size))
    header = bytearray(icc[:128])
    out = header + struct.pack(">I", len(kept)) + b"".join(table) + body
    out[0:4] = struct.pack(">I", len(out))
    out[84:100] = bytes(16)  # profile ID (MD5) no longer matches; zero means "not computed"
    return bytes(out)


def main() -> int:
    icc = pyvips.Image.profile_load("cmyk")
    out = without(icc, DROPPED)
    OUT.write_bytes(out)
    print(f"{OUT}: {len(out)} bytes (libvips {pyvips.version(0)}.{pyvips.version(1)}: {len(icc)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
