#!/usr/bin/env bash
# Run every check and test of Ärendo on this machine, installing and starting what the tests need
# (a PostgreSQL server, Dovecot for IMAP, Debian's chromium and Node.js for the browser tests), then fmt, clippy, the
# Rust test suite — each integration scenario on SQLite and on PostgreSQL — and the browser tests.
#
#   ./scripts/test.sh            everything
#   ./scripts/test.sh -E 'test(auth)'   extra arguments go to cargo nextest
#
# PostgreSQL: uses $ARENDO_TEST_PG_URL if set; else a server on 127.0.0.1:5432 that lets user
# "postgres" in without a password; else starts a throw-away cluster on 127.0.0.1:55432.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

apt_updated=""
need_pkgs() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The build needs no system libraries (SQLite and libpq are compiled in); psql checks the test server;
# the mail tests start their own Dovecot (IMAP) instances.
need_pkgs postgresql-client dovecot-imapd

pg_ok() { psql "$1" -tAc 'select 1' >/dev/null 2>&1; }

if [ -z "${ARENDO_TEST_PG_URL:-}" ]; then
  need_pkgs postgresql
  if pg_ok "postgres://postgres@127.0.0.1:5432/postgres"; then
    export ARENDO_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    PGDIR="${TMPDIR:-/tmp}/arendo-test-pg"
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    if ! pg_ok "postgres://postgres@127.0.0.1:55432/postgres"; then
      log "starting a throw-away PostgreSQL on 127.0.0.1:55432 ($PGDIR)"
      as_root rm -rf "$PGDIR"
      as_root mkdir -p "$PGDIR"
      as_root chown postgres:postgres "$PGDIR"
      as_root su postgres -s /bin/sh -c "$PGBIN/initdb -q -D $PGDIR/data -A trust -U postgres --no-sync >/dev/null"
      as_root su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o '-p 55432 -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300' start >/dev/null"
    fi
    export ARENDO_TEST_PG_URL="postgres://postgres@127.0.0.1:55432/postgres"
  fi
fi
pg_ok "$ARENDO_TEST_PG_URL" || { echo "PostgreSQL at $ARENDO_TEST_PG_URL does not answer" >&2; exit 1; }
log "PostgreSQL for tests: $ARENDO_TEST_PG_URL"

log "cargo fmt --check"
cargo fmt --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
# The benchmarks (arendo-bench, D60) are only compiled with the bench feature: keep them compiling.
log "cargo clippy --all-targets --features bench -- -D warnings"
cargo clippy --all-targets --features bench --quiet -- -D warnings

log "tests (unit + integration, SQLite and PostgreSQL)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@"
else
  cargo test --no-fail-fast "$@"
fi
log "browser tests (Debian chromium + playwright-core + axe-core)"
need_pkgs chromium
command -v node >/dev/null && command -v npm >/dev/null || need_pkgs nodejs npm
cargo build --quiet --bin arendo
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
ARENDO_TEST_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/arendo" node --test tests/browser/

log "all tests passed"
