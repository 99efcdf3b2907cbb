#!/usr/bin/env bash
# The whole test suite: builds the web page, then runs every test on SQLite and on PostgreSQL.
# Installs or starts what it needs: node modules from the lock file, a PostgreSQL server.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "web: install (npm ci), build (types from schema.graphql), unit and component tests"
scripts/build-web.sh
(cd web && npm test)

step "C libraries the build links (xmlsec1 for SAML, libclang for its bindings)"
scripts/build-deps.sh

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# The outage test runs a throwaway cluster of its own: it needs the server binaries even when a
# PostgreSQL server answers on 5432.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  step "installing Debian's postgresql (initdb, pg_ctl) for the outage test's own cluster"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

step "tests on SQLite"
SCIMGW_EXPECT_BACKEND=sqlite cargo nextest run --workspace --no-fail-fast

step "SCIM conformance on SQLite: scim2-tester's check_server against a running gateway"
venv="${SCIMGW_CONFORMANCE_VENV:-target/conformance-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/pip" freeze 2>/dev/null | grep -q '^scim2-tester==0.5.2$'; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/conformance/requirements.txt
fi
cargo build --bin scim-gateway
"$venv/bin/python" tests/conformance/scim2_tester_check.py

step "browser tests (Debian's Chromium, driven by playwright-core)"
missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian's ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
(cd web && npm run e2e)

step "tests on PostgreSQL"
state=$(mktemp)
trap 'if [ -s "$state" ]; then d=$(cat "$state"); runuser -u postgres -- $(cat "$d/stop") >/dev/null 2>&1 || true; rm -rf "$d"; fi; rm -f "$state"' EXIT
pg_url=$(SCIMGW_PG_STATE="$state" scripts/ensure-postgres.sh)
if ! command -v psql >/dev/null 2>&1; then
  echo "installing Debian's postgresql-client (psql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql-client >/dev/null
fi
# Databases left by an interrupted earlier run.
psql "$pg_url" -Atqc "select datname from pg_database where datname like 'scimgw_t_%'" |
  while read -r db; do psql "$pg_url" -qc "drop database if exists $db with (force)" >/dev/null; done
SCIMGW_EXPECT_BACKEND=postgres TEST_DATABASE_URL="$pg_url" cargo nextest run --workspace --no-fail-fast

step "SCIM conformance on PostgreSQL"
conformance_db="scimgw_t_conformance_$$"
psql "$pg_url" -qc "create database $conformance_db"
SCIMGW_CONFORMANCE_DATABASE_URL="${pg_url%/*}/$conformance_db" "$venv/bin/python" tests/conformance/scim2_tester_check.py
psql "$pg_url" -qc "drop database $conformance_db with (force)"
