#!/usr/bin/env bash
# The one command that runs Tessera's complete test suite on a fresh machine with Rust and python3:
# format check, clippy, the Rust tests, the release build, and the black-box Python suite (tests/py)
# that starts the real binary (and real Nginx in front of it). Extra arguments go to pytest (e.g. `scripts/test.sh -k http -x`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

# The shared read-only corpus, which the Rust tests and the corpus check need: `shared/corpus` beside
# the repository (where the project's machines and CI put it), or TESSERA_CORPUS. A clone elsewhere
# is told so now, not by two unit tests failing half an hour in.
corpus="${TESSERA_CORPUS:-$ROOT/../shared/corpus}"
if [ ! -f "$corpus/manifest.tsv" ]; then
  echo "error: the shared corpus is not at $corpus (no manifest.tsv); clone beside shared/, or set TESSERA_CORPUS" >&2
  exit 1
fi
TESSERA_CORPUS="$(cd "$corpus" && pwd)"
export TESSERA_CORPUS

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || { echo "error: apt-get not found; install $* by hand" >&2; exit 1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# What the disk holds before and after the builds, so a full disk is visible in the log, not only as
# a test that fails to write.
disk() { printf 'disk: %s free; target/ %s\n' "$(df -h --output=avail . | tail -1 | tr -d ' ')" \
  "$(du -sh target 2>/dev/null | cut -f1 || echo 0)"; }
disk

# nasm (Debian's assembler: a build tool, not a library) lets mozjpeg assemble its SIMD code; Tessera
# then writes JPEG with libjpeg, about 4x faster than with jpeg-encoder, which it uses otherwise. The
# server builds and runs without it, and the unit tests run both encoders either way. NASM=0 skips it.
if [ "${NASM:-1}" != 0 ] && ! command -v nasm >/dev/null 2>&1; then
  step "installing nasm"
  apt_install nasm || echo "warning: nasm could not be installed; JPEG is built without SIMD" >&2
  # mozjpeg-sys looks for nasm when it is built: a build from before must be redone.
  cargo clean -q -p mozjpeg-sys 2>/dev/null || true
  cargo clean -q --release -p mozjpeg-sys 2>/dev/null || true
fi

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace

step "cargo build --release -p tessera"
cargo build --release -p tessera
disk

# `tessera check` over the shared corpus, compared with its manifest.
step "tessera check $TESSERA_CORPUS (compared with manifest.tsv)"
started=$(date +%s%N)
set +e
"$ROOT/target/release/tessera" check "$TESSERA_CORPUS" --report "$ROOT/target/corpus-check.json" \
  >"$ROOT/target/corpus-check.txt"
check_rc=$?
set -e
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
seconds=$(printf '%d.%03d' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)))
sed -n '1,/^error /p' "$ROOT/target/corpus-check.txt" | grep -v '^error ' || true
python3 "$ROOT/tests/corpus_check.py" "$ROOT/target/corpus-check.json" "$TESSERA_CORPUS/manifest.tsv" \
  --exit-code "$check_rc" --seconds "$seconds"

# Each fuzz target (fuzz/, ASan for the Rust code and the C codecs) for a short bounded time;
# any crash fails the suite. A longer run: FUZZ_SECONDS=3600 bash scripts/fuzz.sh.
step "scripts/fuzz.sh (${FUZZ_SECONDS:-20}s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" FUZZ_SEED="${FUZZ_SEED:-1}" bash "$ROOT/scripts/fuzz.sh"

# python-magic (imported by iiif-validator) loads libmagic.so.1 at import time.
if ! { ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1'; } \
   && ! ls /usr/lib/*/libmagic.so.1 /usr/lib/libmagic.so.1 >/dev/null 2>&1; then
  step "installing libmagic1"
  apt_install libmagic1
fi

# The Nginx integration test (tests/py/test_nginx.py) runs Debian's nginx in front of Tessera.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  step "installing nginx"
  apt_install nginx
fi

# HTTP/2 (tests/py/test_http2.py, test_nginx.py): Debian's curl (nghttp2 inside) for h2c and h2 over TLS,
# nghttp (nghttp2-client) for many streams on one h2c connection (curl 7.88's --parallel with prior
# knowledge fails every stream after the first), openssl for the proxy's self-signed certificate.
for tool in curl:curl nghttp:nghttp2-client openssl:openssl; do
  if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
    step "installing ${tool#*:}"
    apt_install "${tool#*:}"
  fi
done

# The container test (tests/py/test_container.py) builds the Dockerfile and runs it with Debian's podman (runc
# for hosts whose cgroups crun refuses); without them it is skipped and says so.
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  step "installing podman and runc"
  apt_install podman runc || echo "warning: podman could not be installed; the container test will be skipped" >&2
fi

# The alert-rule tests (tests/py/test_monitoring.py) run promtool check/test rules on deploy/prometheus;
# promtool comes with Debian's prometheus package.
if ! command -v promtool >/dev/null 2>&1; then
  step "installing prometheus (for promtool)"
  apt_install prometheus
fi

# The browser test (tests/py/test_viewer_browser.py) drives Debian's chromium, headless, through Playwright
# (tests/requirements.txt), which is pointed at this binary and never downloads a browser of its own.
if [ ! -x /usr/lib/chromium/chromium ] && ! command -v chromium >/dev/null 2>&1; then
  step "installing chromium"
  apt_install chromium || echo "warning: chromium could not be installed; the browser test will be skipped" >&2
fi

VENV="$ROOT/.venv"
REQ="$ROOT/tests/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
  step "creating .venv from tests/requirements.txt"
  if ! python3 -m venv --clear "$VENV"; then
    # Debian's python3 lacks ensurepip unless python3-venv is installed.
    apt_install python3-venv
    python3 -m venv --clear "$VENV"
  fi
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
  echo "$want" >"$STAMP"
else
  step ".venv is up to date"
fi

TESSERA_BIN="${TESSERA_BIN:-$ROOT/target/release/tessera}"
case "$TESSERA_BIN" in /*) ;; *) TESSERA_BIN="$ROOT/$TESSERA_BIN" ;; esac
export TESSERA_BIN

disk
step "pytest tests/py (TESSERA_BIN=$TESSERA_BIN)"
"$VENV/bin/python" -m pytest tests/py "$@"
