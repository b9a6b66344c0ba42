#!/usr/bin/env bash
# Load benchmark of Tessera against the anchor servers (IIPImage, iiif-processor), with the harness in
# ../shared/bench: the same images, the same workloads, one server after the other in one run, repeated
# in alternating order (A B C, C B A, ...), derivative caches off everywhere. Prints the medians and the
# ratios as a Markdown table (also written to OUT/table.md).
#
# usage: scripts/bench_anchors.sh [ROUNDS] [SECONDS]       (defaults: 2 rounds of 10 s per workload)
# environment: BENCH (harness, default ../shared/bench), OUT (default target/bench-anchors),
#   IMAGES (default OUT/images, built by the harness's make-images.sh when missing),
#   QUALITY (Tessera's JPEG quality, default 80: at least both anchors'), WORKLOADS, SERVERS,
#   CARGO_TARGET_DIR (the build of Tessera to run, default ROOT/target),
#   BUST (passed to run.sh: N>0 makes W3/W4/W5 cycle N equivalent URLs, so that Tessera's stampede
#   protection, which lets identical concurrent requests share one render, does not count),
#   SESSIONS (1, the default: after the load rounds, the viewer sessions of ../shared/bench/session.py on
#   pyr.tif and big.jp2, one fresh server each, cold then warm; 0 skips them).
# Needs Debian's wrk, iipimage-server, nginx, libvips-tools, libopenjp2-tools, GNU time and nasm (installed
# when missing, as root), node and npm (for iiif-processor), and a release build of Tessera (built here).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-2}
SECONDS_PER=${2:-10}
BENCH=$(cd "${BENCH:-$ROOT/../shared/bench}" && pwd)
OUT=${OUT:-$ROOT/target/bench-anchors}
IMAGES=${IMAGES:-$OUT/images}
QUALITY=${QUALITY:-80}
WORKLOADS=${WORKLOADS:-W1 W2 W3 W4 W5 W6 W7}
SERVERS=${SERVERS:-tessera iipimage iiif-processor}
mkdir -p "$OUT"

need=()
for pair in wrk:wrk /usr/lib/iipimage-server/iipsrv.fcgi:iipimage-server nginx:nginx vips:libvips-tools \
  opj_compress:libopenjp2-tools /usr/bin/time:time nasm:nasm; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  # With nasm, mozjpeg assembles its SIMD code and Tessera encodes JPEG with it (as the anchors'
  # libjpeg-turbo does): a build of mozjpeg from before nasm is redone.
  case " ${need[*]} " in *" nasm "*) (cd "$ROOT" && cargo clean -q --release -p mozjpeg-sys) || true ;; esac
fi
[ -f "$IMAGES/pyr.tif" ] || bash "$BENCH/make-images.sh" "$IMAGES"
if [ ! -d "$OUT/iiif-processor/node_modules" ]; then
  rm -rf "$OUT/iiif-processor"
  cp -r "$BENCH/anchors/iiif-processor" "$OUT/iiif-processor"
  chmod -R u+w "$OUT/iiif-processor"
  (cd "$OUT/iiif-processor" && npm install --no-audit --no-fund >/dev/null)
fi
(cd "$ROOT" && cargo build --release -q -p tessera)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

cat > "$OUT/tessera.toml" <<EOF
[server]
listen = "127.0.0.1:8300"
[images]
root = "$IMAGES"
[output]
jpeg_quality = $QUALITY
[cache]
# Derivative caches off: every request is rendered (image headers are still remembered).
memory_max_bytes = 0
memory_max_entry_bytes = 0
[limits]
# wrk is one client address standing for many readers: without this, its four connections asking
# for distinct large renders (W3/W4 with BUST) would get 503 for all but its per-client share.
large_renders_per_client = 64
EOF

PIDS=""
# A port already taken (a server left from an earlier run) would let the server under test fail to
# bind while the harness measures the stray one: refuse instead.
port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}
start() {
  local port
  case "$1" in tessera) port=8300 ;; iipimage) port=8100 ;; *) port=8200 ;; esac
  if ! port_free "$port"; then
    echo "bench_anchors: port $port is already in use (a server left running?); stop it first" >&2
    exit 1
  fi
  case "$1" in
    tessera)
      "$TARGET_DIR/release/tessera" serve --config "${TESSERA_CONFIG:-$OUT/tessera.toml}" > "$OUT/tessera.log" 2>&1 &
      PIDS=$!
      BASE=http://127.0.0.1:8300/iiif/3 ;;
    iipimage)
      bash "$BENCH/anchors/iipsrv/start.sh" "$IMAGES" 8100 "$OUT/iip-run" "${IIP_WORKERS:-4}" > "$OUT/iipsrv.log" 2>&1
      PIDS=$(tr '\n' ' ' < "$OUT/iip-run/pids")
      BASE=http://127.0.0.1:8100/iiif ;;
    iiif-processor)
      (cd "$OUT/iiif-processor" && exec node server.js "$IMAGES" 8200) > "$OUT/iiif-processor.log" 2>&1 &
      PIDS=$!
      BASE=http://127.0.0.1:8200/iiif/3 ;;
  esac
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$BASE/pyr.tif/info.json" && return 0
    curl -sf -o /dev/null "$BASE/big.jp2/info.json" && return 0
    sleep 0.2
  done
  echo "bench_anchors: $1 did not start" >&2
  return 1
}
stop() {
  case "$1" in
    iipimage) bash "$BENCH/anchors/iipsrv/start.sh" --stop "$OUT/iip-run" ;;
    *) kill $PIDS 2>/dev/null || true; wait $PIDS 2>/dev/null || true ;;
  esac
  sleep 1
}

rm -rf "$OUT/runs"
order=($SERVERS)
for round in $(seq 1 "$ROUNDS"); do
  for server in "${order[@]}"; do
    echo "== round $round: $server"
    # The images into the page cache first: on this kind of VM it loses them between runs, and the
    # first server to run would otherwise pay the disk reads for all (seen as a "slow start").
    cat "$IMAGES"/* > /dev/null
    start "$server"
    OUTDIR="$OUT/runs/$round-$server" LABEL="$server" SERVER_PIDS="$PIDS" WORKLOADS="$WORKLOADS" BUST="${BUST:-0}" \
      bash "$BENCH/run.sh" "$BASE" "$SECONDS_PER" || true
    stop "$server"
  done
  # Alternate the order: the next round runs the servers the other way round.
  mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
done

# Viewer sessions: what a reader waits for. Each server is started fresh (Tessera with an empty pyramid
# folder, so big.jp2's session is its first touch, its pyramid built meanwhile), the sessions run
# once cold and, after a pause long enough for that build, once warm. session.py counts a tile whose
# status is not 200 as an error; whether the answers are images at all is checked here, on one tile
# per image (IIPImage 1.3 answers some JPEG 2000 tiles with an error page and status 200). IIPImage
# gets one single-threaded worker per connection, as under wrk: nginx keeps its FastCGI connections
# open, and a connection more than there are workers would wait for nginx's 60 s time limit (session.py uses 6).
rm -rf "$OUT/sessions"
if [ "${SESSIONS:-1}" != 0 ]; then
  mkdir -p "$OUT/sessions"
  { cat "$OUT/tessera.toml"; printf '[pyramid]\ndir = "%s"\n' "$OUT/session-pyramids"; } > "$OUT/tessera-sessions.toml"
  for server in $SERVERS; do
    echo "== sessions: $server"
    rm -rf "$OUT/session-pyramids"
    cat "$IMAGES"/* > /dev/null
    TESSERA_CONFIG="$OUT/tessera-sessions.toml" IIP_WORKERS=6 start "$server"
    for run in cold warm; do
      # One image per call: a server that cannot open one (iiif-processor and JPEG 2000) still has its
      # other session counted.
      for ident in pyr.tif big.jp2; do
        python3 "$BENCH/session.py" "$BASE" "$ident" --json "$OUT/sessions/$server-$run-$ident.json" || true
      done
      if [ "$run" = cold ]; then sleep "${SESSION_PAUSE:-12}"; fi
    done
    python3 - "$BASE" "$OUT/sessions/$server-images.json" <<'PY' || true
import http.client, json, sys, urllib.parse
base, out = sys.argv[1:3]
u = urllib.parse.urlsplit(base)
found = {}
for ident in ("pyr.tif", "big.jp2"):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    # A tile of the second level, as a viewer asks for it in 2.1 and 3.0 syntax alike.
    c.request("GET", f"{u.path}/{ident}/2048,2048,1024,1024/512,/0/default.jpg")
    r = c.getresponse()
    body = r.read()
    found[ident] = r.status == 200 and body[:2] == b"\xff\xd8"
json.dump(found, open(out, "w"))
PY
    stop "$server"
  done
fi

python3 - "$OUT" "$QUALITY" "$ROUNDS" "$SECONDS_PER" <<'PY' | tee "$OUT/table.md"
import csv, glob, json, os, statistics, sys
out, quality, rounds, secs = sys.argv[1:5]
rows = {}
for path in glob.glob(os.path.join(out, "runs", "*", "results.tsv")):
    for r in csv.DictReader(open(path), delimiter="\t"):
        if r["req_s"] in ("", "n/a"):
            continue
        rows.setdefault((r["server"], r["wl"]), []).append(r)
servers = ["tessera", "iipimage", "iiif-processor"]
wls = sorted({wl for _, wl in rows})
def med(server, wl, key):
    vals = [float(r[key]) for r in rows.get((server, wl), [])]
    return statistics.median(vals) if vals else None
def cell(server, wl):
    rps, p50, p99 = (med(server, wl, k) for k in ("req_s", "p50_ms", "p99_ms"))
    if rps is None:
        return "cannot serve"
    kib = med(server, wl, "kib_resp")
    rate = f"{rps:,.0f}" if rps >= 100 else f"{rps:.3g}"
    return f"{rate} · {p50:.1f} / {p99:.1f} · {kib:.0f} KiB"
bust = os.environ.get("BUST", "0")
print(f"req/s · p50 / p99 ms · KiB per response; medians of {rounds} rounds of {secs} s, Tessera JPEG quality {quality}, BUST={bust}")
print()
print("| workload | " + " | ".join(servers) + " | Tessera ÷ IIPImage | Tessera ÷ iiif-processor |")
print("|---" * (len(servers) + 3) + "|")
for wl in wls:
    t = med("tessera", wl, "req_s")
    ratios = []
    for anchor in servers[1:]:
        a = med(anchor, wl, "req_s")
        ratios.append(f"{t / a:.1f}×" if t and a else "–")
    print(f"| {wl} | " + " | ".join(cell(s, wl) for s in servers) + " | " + " | ".join(ratios) + " |")
sessions = {}
# Each server's one-tile check, written when its sessions ran: a missing session of a server that
# has one is an image it cannot open.
images = {}
for server in servers:
    path = os.path.join(out, "sessions", f"{server}-images.json")
    if os.path.exists(path):
        images[server] = json.load(open(path))
for server in servers:
    for run in ("cold", "warm"):
        for path in glob.glob(os.path.join(out, "sessions", f"{server}-{run}-*.json")):
            for r in json.load(open(path)):
                sessions[(server, r["identifier"], run)] = r
if sessions:
    print()
    print("Viewer sessions (session.py, 8 views, 1600x1000, 6 connections): session ms · first view ms · "
          "tile p50 ms · tiles (errors); cold = a fresh server, Tessera with an empty pyramid folder")
    print()
    print("| image | run | " + " | ".join(servers) + " |")
    print("|---" * (len(servers) + 2) + "|")
    for ident in ("pyr.tif", "big.jp2"):
        for run in ("cold", "warm"):
            cells = []
            for server in servers:
                r = sessions.get((server, ident, run))
                if r is None:
                    cells.append("cannot serve" if server in images else "–")
                    continue
                cell_text = (f"{r['session_ms']:,.0f} · {r['first_view_ms']:,.0f} · {r['tile_p50_ms']:.1f} · "
                             f"{r['tiles']} ({r['errors']})")
                if images.get(server, {}).get(ident) is False:
                    cell_text += ", **not images**"
                cells.append(cell_text)
            print(f"| {ident} | {run} | " + " | ".join(cells) + " |")
    print()
    for server in servers:
        for run in ("cold", "warm"):
            a, b = sessions.get((server, "big.jp2", run)), sessions.get((server, "pyr.tif", run))
            if a and b:
                print(f"- {server}, {run}: big.jp2 ÷ pyr.tif {a['session_ms'] / b['session_ms']:.1f}×")
PY
