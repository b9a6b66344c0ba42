#!/usr/bin/env bash
# Build Tessera's fuzz targets (fuzz/, libFuzzer through libfuzzer-sys) with AddressSanitizer for
# the Rust code and for the vendored C codecs (mozjpeg, OpenJPEG, libwebp, compiled by clang with
# -fsanitize=address,fuzzer-no-link), then run each target for a bounded time. Exits non-zero when
# any target crashes, leaks, times out or runs out of memory; the input that did it lands in
# fuzz/artifacts/<target>/ (copy it to tests/fuzz-regressions/<target>/ to keep it as a test).
#
# Usage: scripts/fuzz.sh [target ...]         (default: every target)
# Environment:
#   FUZZ_SECONDS  seconds per target (default 20)
#   FUZZ_RSS_MB   libFuzzer -rss_limit_mb (default 2048)
#   FUZZ_TIMEOUT  seconds one input may take, libFuzzer -timeout (default 10)
#   FUZZ_JOBS     parallel libFuzzer workers per target, -fork (default 1: no fork)
#   FUZZ_SEED     libFuzzer -seed (default: a new one each run; scripts/test.sh fixes it, so the
#                 suite replays the same mutations and a red run can be repeated)
#   FUZZ_TARGET_DIR  cargo target folder of the sanitized build (default fuzz/target)
#   FUZZ_BUILD_ONLY=1  build, do not run
# Seeds: fuzz/seeds/<target>/, tests/fuzz-regressions/<target>/, and the small files of
# ../shared/corpus beside the repository when it is there. The growing corpus is fuzz/corpus/<target>/.
# A summary line per run (executions, coverage, peak RSS, result) is appended to fuzz/artifacts/runs.tsv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
JOBS="${FUZZ_JOBS:-1}"
TARGET_DIR="${FUZZ_TARGET_DIR:-$ROOT/fuzz/target}"
TRIPLE="x86_64-unknown-linux-gnu"
ALL_TARGETS=(url identifier read_jpeg read_png read_gif read_tiff read_webp read_jp2)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# A clang whose AddressSanitizer and coverage instrumentation the rustc runtime accepts.
find_clang() {
  for v in 22 21 20 19 18 17 16 15 14; do
    if command -v "clang-$v" >/dev/null 2>&1 && command -v "clang++-$v" >/dev/null 2>&1; then
      echo "$v"; return 0
    fi
  done
  if command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1; then
    echo ""; return 0
  fi
  return 1
}

if ! version="$(find_clang)"; then
  step "installing clang (Debian)"
  command -v apt-get >/dev/null 2>&1 || { echo "error: no clang and no apt-get; install clang by hand" >&2; exit 1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang
  version="$(find_clang)"
fi
CLANG="clang${version:+-$version}"
CLANGXX="clang++${version:+-$version}"

# rustc's own flags for a libFuzzer build (what cargo-fuzz passes), on the stable toolchain:
# RUSTC_BOOTSTRAP allows -Zsanitizer. Build scripts and proc macros stay uninstrumented because
# the build names --target explicitly.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$TARGET_DIR"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers=yes"
# The vendored C (every `cc`/cmake build for the target): AddressSanitizer plus libFuzzer's
# coverage counters, so the fuzzer is guided inside the codecs too. C++ (libFuzzer itself) is
# left uninstrumented.
export "CC_${TRIPLE//-/_}=$CLANG"
export "CXX_${TRIPLE//-/_}=$CLANGXX"
export "CFLAGS_${TRIPLE//-/_}=-fsanitize=address,fuzzer-no-link -fno-omit-frame-pointer -g -O1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:abort_on_error=1:symbolize=1}"

step "building fuzz targets (ASan, $CLANG for C) into $TARGET_DIR"
bins=()
for t in "${TARGETS[@]}"; do bins+=(--bin "$t"); done
# fuzz/ has its own lock file; when a crate of the workspace gains a dependency, it must follow.
if ! cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null 2>&1; then
  echo "error: fuzz/Cargo.lock is out of date with the workspace; run: (cd fuzz && cargo update -w)" >&2
  exit 1
fi
cargo build --release --locked --manifest-path fuzz/Cargo.toml --target "$TRIPLE" "${bins[@]}"
BIN_DIR="$TARGET_DIR/$TRIPLE/release"

# The C objects must really carry ASan: each codec's static library references __asan_report_*.
for lib in mozjpeg openjp2 webp; do
  archive="$(find "$TARGET_DIR/$TRIPLE/release/build" -name "lib${lib}*.a" 2>/dev/null | head -n 1)"
  if [ -z "$archive" ]; then
    echo "error: no static library for $lib under $TARGET_DIR (was it built?)" >&2; exit 1
  fi
  # (counted, not `grep -q`: an early exit would fail the pipeline with SIGPIPE under pipefail)
  refs="$(nm "$archive" 2>/dev/null | grep -c '__asan_report' || true)"
  if [ "${refs:-0}" -eq 0 ]; then
    echo "error: $archive is not instrumented with AddressSanitizer" >&2; exit 1
  fi
  echo "ASan in $(basename "$archive"): $refs references"
done

[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

# Small files (<= 64 KiB) of ../shared/corpus that suit a target.
CORPUS="$ROOT/../shared/corpus"
shared_seeds() {
  local pattern
  case "$1" in
    read_jpeg) pattern='*.jpg *.jpeg' ;;
    read_png) pattern='*.png' ;;
    read_gif) pattern='*.gif' ;;
    read_tiff) pattern='*.tif *.tiff' ;;
    read_webp) pattern='*.webp' ;;
    read_jp2) pattern='*.jp2 *.j2k *.jpx *.jpf *.j2c' ;;
    *) return 0 ;;
  esac
  [ -d "$CORPUS" ] || return 0
  for p in $pattern; do
    find "$CORPUS" -type f -iname "$p" -size -65k
  done
}

mkdir -p fuzz/artifacts
LOG="fuzz/artifacts/runs.tsv"
[ -f "$LOG" ] || printf 'date\ttarget\tseconds\texecs\tcov\tft\tcorpus\tpeak_rss_mb\tresult\n' >"$LOG"

failed=()
for t in "${TARGETS[@]}"; do
  corpus="fuzz/corpus/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  seeds=()
  for d in "fuzz/seeds/$t" "tests/fuzz-regressions/$t"; do
    [ -d "$d" ] && seeds+=("$d")
  done
  while IFS= read -r f; do
    cp -n "$f" "$corpus/shared-$(basename "$f")"
  done < <(shared_seeds "$t")
  step "fuzzing $t for ${SECONDS_PER_TARGET}s (rss limit ${RSS_MB} MB, timeout ${TIMEOUT}s)"
  out="$artifacts/last-run.log"
  fork=()
  [ "$JOBS" -gt 1 ] && fork=(-fork="$JOBS" -ignore_crashes=0)
  set +e
  seed=()
  [ -n "${FUZZ_SEED:-}" ] && seed=(-seed="$FUZZ_SEED")
  "$BIN_DIR/$t" "${seed[@]}" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" \
    -malloc_limit_mb="$RSS_MB" -timeout="$TIMEOUT" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${fork[@]}" "$corpus" "${seeds[@]}" >"$out" 2>&1
  rc=$?
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' | tail -n 1)"
  rss="$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$out" | grep -o '[0-9]*$' | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$out" | tail -n 1 | grep -o '[0-9]*')"
  ft="$(grep -o 'ft: [0-9]*' "$out" | tail -n 1 | grep -o '[0-9]*')"
  units="$(find "$corpus" -type f | wc -l)"
  if [ "$rc" -eq 0 ]; then result=ok; else result="failed(rc=$rc)"; failed+=("$t"); fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$SECONDS_PER_TARGET" \
    "${execs:-?}" "${cov:-?}" "${ft:-?}" "$units" "${rss:-?}" "$result" >>"$LOG"
  echo "$t: $result, ${execs:-?} executions, cov ${cov:-?}, peak RSS ${rss:-?} MB"
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR: |panicked at|SUMMARY: ' "$out" | head -n 5 || true
    echo "full log: $out; input: $(ls -t "$artifacts" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | head -n 1)"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "error: fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
echo "every fuzz target ran ${SECONDS_PER_TARGET}s without a crash"
