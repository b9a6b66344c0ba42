#!/usr/bin/env bash
# What a reader waits for on plain originals once Tessera builds their pyramids on first touch
# (issue 12), measured in one run beside libvips building the same pyramid:
#
#   scripts/bench_pyramids.sh IMAGES_DIR [OUT_DIR]
#
# IMAGES_DIR holds the harness images (../shared/bench/make-images.sh: big.tif, big.jpg, pyr.tif);
# a 20000x20000 plain LZW TIFF (big20k.tif) is made there from big.tif when missing. For each plain
# image: the time `vips tiffsave --tile --pyramid --compression jpeg` takes (median of 3), then a
# fresh Tessera with an empty pyramid store: the first viewer session (which starts the build and
# waits for it), a second session once the pyramid exists, and the `pyr.tif` session on the same
# server; the build's peak memory (`tessera pyramid` under /usr/bin/time); W3 (`full/,1000` of
# big.tif) with and without the pyramid. The sessions and the libvips build are repeated RUNS times
# (default 3), each round on a fresh server, and the medians are shown. Needs Debian's libvips-tools, wrk and python3; derivative
# caches are off so that every answer is rendered or sent from the pyramid.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES="$(cd "${1:?usage: bench_pyramids.sh IMAGES_DIR [OUT_DIR]}" && pwd)"
OUT="${2:-$ROOT/target/bench-pyramids}"
BENCH="$ROOT/../shared/bench"
BIN="${TESSERA_BIN:-$ROOT/target/release/tessera}"
PORT="${PORT:-8340}"
mkdir -p "$OUT"
for tool in vips wrk python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 1; }
done
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -p tessera)

if [ ! -f "$IMAGES/big20k.tif" ]; then
  echo "making big20k.tif (20000x20000, plain LZW)"
  vips resize "$IMAGES/big.tif" "$OUT/big20k-wide.v" 2 --kernel linear
  vips embed "$OUT/big20k-wide.v" "$IMAGES/big20k.tif[compression=lzw]" 0 0 20000 20000 --extend mirror
  rm -f "$OUT/big20k-wide.v"
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

config() {  # $1: pyramid store dir, or "off"
  {
    printf '[images]\nroot = "%s"\n[output]\njpeg_quality = 80\n' "$IMAGES"
    printf '[cache]\nmemory_max_bytes = 0\nmemory_max_entry_bytes = 0\n'
    if [ "$1" = off ]; then printf '[pyramid]\nenabled = false\n'; else printf '[pyramid]\ndir = "%s"\nmax_bytes = 20000000000\nmin_free_bytes = 0\n' "$1"; fi
  } >"$OUT/tessera.toml"
}

start() {
  "$BIN" serve --config "$OUT/tessera.toml" --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/ready" && return; sleep 0.1; done
  echo "error: tessera did not start" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

session() {  # identifier -> "session_ms first_view_ms tiles errors"
  python3 "$BENCH/session.py" "http://127.0.0.1:$PORT/iiif/3" "$1" --style wh --json "$OUT/s.json" >/dev/null
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r=r[0] if isinstance(r,list) else r; print(round(r["session_ms"]), round(r["first_view_ms"]), r["tiles"], r["errors"])' "$OUT/s.json"
}

printf '| image | vips tiffsave pyramid | first session (builds) | ratio | second session | pyr.tif session | ratio | build peak RSS |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
RUNS=${RUNS:-3}
for image in big.tif big.jpg big20k.tif; do
  # RUNS rounds, each a libvips build beside a fresh Tessera (empty store): noise on the machine
  # falls on both alike; the table shows the median of each column.
  : >"$OUT/rounds.txt"
  errors1=0 errors2=0
  for _ in $(seq 1 "$RUNS"); do
    s=$(date +%s%N); vips tiffsave "$IMAGES/$image" "$OUT/vips.tif" --tile --pyramid --compression jpeg --tile-width 512 --tile-height 512; e=$(date +%s%N)
    rm -rf "$OUT/store" "$OUT/vips.tif"
    config "$OUT/store"
    start
    read -r first _ _ e1 < <(session "$image")
    read -r second _ _ e2 < <(session "$image")
    read -r pyr _ _ _ < <(session pyr.tif)
    stop
    echo "$(( (e - s) / 1000000 )) $first $second $pyr" >>"$OUT/rounds.txt"
    errors1=$((errors1 + e1)) errors2=$((errors2 + e2))
  done
  col() { awk -v c="$1" '{print $c}' "$OUT/rounds.txt" | median; }
  vips_ms=$(col 1) first=$(col 2) second=$(col 3) pyr=$(col 4)
  rm -rf "$OUT/store-rss"
  config "$OUT/store-rss"
  echo "$image" >"$OUT/list.txt"
  rss=$(/usr/bin/time -f '%M' "$BIN" pyramid "$OUT/list.txt" --config "$OUT/tessera.toml" --images "$IMAGES" 2>&1 >/dev/null | tail -1)
  rm -rf "$OUT/store-rss"
  ratio1=$(python3 -c "print(f'{$first/$vips_ms:.2f}')")
  ratio2=$(python3 -c "print(f'{$second/$pyr:.2f}')")
  printf '| `%s` | %s ms | %s ms (%s errors) | %s× | %s ms (%s errors) | %s ms | %s× | %s MB |\n' \
    "$image" "$vips_ms" "$first" "$errors1" "$ratio1" "$second" "$errors2" "$pyr" "$ratio2" "$((rss / 1024))"
done

# W3 (full/,1000 of big.tif) without a pyramid, then with it.
echo
for mode in off on; do
  if [ "$mode" = off ]; then config off; else config "$OUT/store"; fi
  start
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/iiif/3/big.tif/0,0,512,512/512,512/0/default.jpg" || true
  printf 'W3 pyramid %s: ' "$mode"
  WORKLOADS=W3 bash "$BENCH/run.sh" "http://127.0.0.1:$PORT/iiif/3" "${SECS:-8}" | grep W3 || true
  stop
done
