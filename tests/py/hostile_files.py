"""Generators of hostile image files: tiny payloads whose headers declare huge sizes, tile counts,
components or code-block structures, for every source format Tessera reads.

Each generator returns the file's bytes; `HOSTILE` maps a file name to its generator. The files
are written by hand from the format specifications (ISO/IEC 15444-1 for JPEG 2000, RFC 9649 for
WebP, ITU T.81 for JPEG, the PNG and GIF89a specifications), so no encoder is needed.

Run as a script to measure a binary's peak RSS per file (one server per file):
    python tests/py/hostile_files.py path/to/tessera
"""

from __future__ import annotations

import struct
import zlib


# --------------------------------------------------------------------------------------------
# JPEG 2000


def _marker(code: int, body: bytes) -> bytes:
    return struct.pack(">HH", code, len(body) + 2) + body


def j2k(
    width: int,
    height: int,
    *,
    tile: tuple[int, int] | None = None,
    comps: int = 3,
    levels: int = 5,
    cblk: int = 6,
    precinct: int | None = None,
    layers: int = 1,
    tiles_written: int = 1,
    in_tile_header: bool = False,
) -> bytes:
    """A raw codestream: SIZ, COD, QCD, then `tiles_written` tile-parts of empty packets. With
    `in_tile_header`, the main COD is plain (64x64 code-blocks) and each tile-part header carries
    the COD with `cblk` and `precinct`."""
    tw, th = tile or (width, height)
    siz = struct.pack(">HIIIIIIIIH", 0, width, height, 0, 0, tw, th, 0, 0, comps)
    siz += bytes([7, 1, 1]) * comps  # 8-bit unsigned, no subsampling
    def cod_body(cblk: int, precinct: int | None) -> bytes:
        scod = 1 if precinct is not None else 0
        cod = struct.pack(">BBHB", scod, 0, layers, 1 if comps >= 3 else 0)
        cod += bytes([levels, cblk - 2, cblk - 2, 0, 1])  # 5/3 reversible
        if precinct is not None:
            cod += bytes([(precinct << 4) | precinct]) * (levels + 1)
        return cod

    cod = cod_body(6, None) if in_tile_header else cod_body(cblk, precinct)
    tile_cod = _marker(0xFF52, cod_body(cblk, precinct)) if in_tile_header else b""
    qcd = bytes([0x40]) + bytes([8 << 3]) * (3 * levels + 1)  # no quantisation, 2 guard bits
    out = b"\xff\x4f" + _marker(0xFF51, siz) + _marker(0xFF52, cod) + _marker(0xFF5C, qcd)
    for t in range(tiles_written):
        data = b"\x00" * 64  # empty packets
        sot = struct.pack(">HIBB", t, 12 + len(tile_cod) + 2 + len(data), 0, 1)
        out += _marker(0xFF90, sot) + tile_cod + b"\xff\x93" + data
    return out + b"\xff\xd9"


def jp2(codestream: bytes) -> bytes:
    """The codestream in a minimal JP2 file (signature, ftyp, jp2h with ihdr + colr, jp2c)."""

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body) + 8) + kind + body

    siz_w, siz_h = struct.unpack(">II", codestream[8:16])
    comps = struct.unpack(">H", codestream[40:42])[0]
    ihdr = box(b"ihdr", struct.pack(">IIHBBBB", siz_h, siz_w, comps, 7, 7, 0, 0))
    colr = box(b"colr", struct.pack(">BBBI", 1, 0, 0, 16 if comps >= 3 else 17))
    return (
        box(b"jP  ", b"\r\n\x87\n")
        + box(b"ftyp", b"jp2 " + b"\0\0\0\0" + b"jp2 ")
        + box(b"jp2h", ihdr + colr)
        + box(b"jp2c", codestream)
    )


# --------------------------------------------------------------------------------------------
# WebP


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    pad = b"\0" if len(body) % 2 else b""
    return kind + struct.pack("<I", len(body)) + body + pad


def _vp8l_1x1() -> bytes:
    """A 1x1 lossless frame (opaque black), as libwebp writes one."""
    return bytes.fromhex("2f00000000071011fd0f4444ff03")


def webp_canvas(width: int, height: int) -> bytes:
    """A VP8X canvas of `width` x `height` around a 1x1 lossless frame."""
    vp8x = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return _riff(_chunk(b"VP8X", vp8x) + _chunk(b"VP8L", _vp8l_1x1()))


def webp_animated_canvas(width: int, height: int, frames: int = 2) -> bytes:
    """An animated VP8X canvas of `width` x `height` with `frames` 1x1 frames."""
    vp8x = bytes([0x02, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    anim = _chunk(b"ANIM", b"\0\0\0\0" + struct.pack("<H", 0))
    frame = bytes(6) + bytes(3) + bytes(3) + (100).to_bytes(3, "little") + b"\0"
    anmf = _chunk(b"ANMF", frame + _chunk(b"VP8L", _vp8l_1x1()))
    return _riff(_chunk(b"VP8X", vp8x) + anim + anmf * frames)


# --------------------------------------------------------------------------------------------
# JPEG


def jpeg_progressive(width: int, height: int, comps: int = 3) -> bytes:
    """A progressive JPEG header (SOF2) whose first scan (DC) stops after a few bytes."""
    sof = struct.pack(">BHHB", 8, height, width, comps)
    for c in range(comps):
        sof += bytes([c + 1, 0x11, 0])
    dqt = b"\x00" + bytes([1] * 64)
    dht = b"\x00" + bytes([1] + [0] * 15) + b"\x00"  # DC table 0: one code of length 1, symbol 0
    sos = bytes([comps]) + b"".join(bytes([c + 1, 0x00]) for c in range(comps)) + bytes([0, 0, 0])
    return (
        b"\xff\xd8"
        + _marker(0xFFDB, dqt)
        + _marker(0xFFC2, sof)
        + _marker(0xFFC4, dht)
        + _marker(0xFFDA, sos)
        + b"\x00" * 256
        + b"\xff\xd9"
    )


# --------------------------------------------------------------------------------------------
# PNG and GIF


def png_declared(width: int, height: int) -> bytes:
    """An 8-bit RGB PNG whose IDAT holds a few rows' worth of zlib data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width * 3 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_screen(width: int, height: int) -> bytes:
    """A GIF89a logical screen of `width` x `height` holding one 1x1 frame."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return head + image + b"\x3b"


# --------------------------------------------------------------------------------------------

#: name -> generator of a hostile file (tiny payload, huge declarations).
HOSTILE = {
    # The reported file: one tile of 1,048,576 x 65,535 (68.7 gigapixels).
    "j2k-single-tile-68gp.j2k": lambda: j2k(1 << 20, 65535, levels=12),
    "j2k-single-tile-68gp.jp2": lambda: jp2(j2k(1 << 20, 65535, levels=12)),
    # 65,280 tiles of 4096 x 4096: OpenJPEG allocates ~9 KB of records per tile at the header.
    "j2k-65280-tiles.j2k": lambda: j2k(1 << 20, 255 * 4096, tile=(4096, 4096), levels=12),
    # 2,048 tiles of 4096 x 4096 (34 gigapixels), within the header budget: each read is costed.
    "j2k-2048-tiles-34gp.jp2": lambda: jp2(j2k(1 << 18, 1 << 17, tile=(4096, 4096), levels=12)),
    # A 16000 x 16000 tile (within the pixel limit) in 4x4 code-blocks and 2x2 precincts.
    "j2k-tiny-codeblocks.j2k": lambda: j2k(16000, 16000, cblk=2, precinct=1, levels=6),
    # The same, with the tiny code-blocks set by the tile-part header's COD instead.
    "j2k-tiny-codeblocks-in-tile-header.j2k": lambda: j2k(
        16000, 16000, cblk=2, precinct=1, levels=6, in_tile_header=True
    ),
    # 16,000 components of 1000 x 1000.
    "j2k-16000-components.j2k": lambda: j2k(1000, 1000, comps=16000, levels=2),
    # 65,535 quality layers with small precincts: the packet-inclusion table.
    "j2k-65535-layers.j2k": lambda: j2k(8000, 8000, layers=65535, precinct=6, levels=5),
    # A VP8X canvas of 16384 x 16384 around a 1x1 frame, still and animated.
    "webp-canvas-16384.webp": lambda: webp_canvas(16384, 16384),
    "webp-animated-canvas-16384.webp": lambda: webp_animated_canvas(16384, 16384),
    # A progressive 20000 x 20000 JPEG (400 Mpx, at the limit): 2.4 GB of coefficient buffers.
    "jpeg-progressive-20000.jpg": lambda: jpeg_progressive(20000, 20000),
    # A 20000 x 20000 PNG with four rows of data.
    "png-20000.png": lambda: png_declared(20000, 20000),
    # A 20000 x 20000 GIF screen around a 1x1 frame.
    "gif-screen-20000.gif": lambda: gif_screen(20000, 20000),
}

#: Requests made of each file (IIIF 3.0 paths after the identifier).
REQUESTS = [
    "info.json",
    "full/max/0/default.jpg",
    "full/256,/0/default.jpg",
    "0,0,512,512/256,/0/default.jpg",
    "full/^pct:400/0/default.jpg",
]


def write_all(folder) -> list[str]:
    """Write every hostile file into `folder`; return their names."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in HOSTILE.items():
        (folder / name).write_bytes(make())
    return list(HOSTILE)


if __name__ == "__main__":  # measurement: one fresh server per file, peak RSS after its requests
    import http.client
    import os
    import resource
    import socket
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    binary = sys.argv[1]
    only = sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_all(root)
        (root / "ok.png").write_bytes(png_declared(4, 4))
        for name in HOSTILE:
            if only and name not in only:
                continue
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
            proc = subprocess.Popen(
                [binary, "serve", "--images", str(root), "--listen", f"127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                # At most 6 GiB of address space, so an unfixed binary cannot take the machine down.
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30)),
            )
            for _ in range(100):
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/health/live")
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(0.2)
            base = int(open(f"/proc/{proc.pid}/status").read().split("VmHWM:")[1].split()[0])
            results = []
            for req in REQUESTS:
                t = time.monotonic()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("GET", f"/iiif/3/{name}/{req}")
                    status = conn.getresponse().status
                except OSError as e:
                    status = type(e).__name__
                results.append(f"{status}/{time.monotonic() - t:.2f}s")
                if proc.poll() is not None:
                    break
            time.sleep(0.5)  # let a decode that outlived its client show in the peak
            try:
                hwm = int(open(f"/proc/{proc.pid}/status").read().split("VmHWM:")[1].split()[0])
            except (OSError, IndexError):
                hwm = -1
            proc.kill()
            proc.wait()
            print(f"{name:36} peak {hwm / 1024:8.0f} MB (idle {base / 1024:.0f})  {' '.join(results)}", flush=True)
