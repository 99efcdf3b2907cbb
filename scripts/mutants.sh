#!/usr/bin/env bash
# Mutation testing of the rule-dense files (not part of `make test`: about 35 minutes on 2 cores).
# Each file's mutants are tested against the tests that exercise it, on SQLite, or on PostgreSQL
# when TEST_DATABASE_URL names a server. Installs cargo-mutants when missing. Reports go to
# target/mutants/<file>/mutants.out (missed.txt lists the survivors).
# Usage: scripts/mutants.sh [roles|filter_sql|patch ...]
#   MUTANTS_ITERATE=1   test only the mutants the last run of a file did not catch (for example
#                       on PostgreSQL after a SQLite run: code for one database only dies there)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-deps.sh
command -v cargo-mutants >/dev/null 2>&1 || cargo install --locked cargo-mutants
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

declare -A file filter
file[roles]=src/domain/roles.rs
filter[roles]='(kind(lib) & test(/roles|mappings|groups/)) | (binary(it) & test(/^(mappings|scim_groups|graphql_directory|scim_users|isolation)::/))'
file[filter_sql]=src/domain/filter_sql.rs
filter[filter_sql]='(kind(lib) & test(/filter/)) | (binary(it) & test(/^(filter_property|scim_users|scim_groups|hostile|compat)::/))'
file[patch]=src/scim/patch.rs
filter[patch]='(kind(lib) & test(/patch|users|groups/)) | (binary(it) & test(/^(scim_users|scim_groups|compat|hostile|member_copies|filter_property)::/))'

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(roles filter_sql patch)
for name in "${names[@]}"; do
  echo "== mutants of ${file[$name]}"
  mkdir -p "target/mutants/$name"
  iterate=()
  [ -n "${MUTANTS_ITERATE:-}" ] && iterate=(--iterate)
  # cargo-mutants exits non-zero when a mutant survives; the summary says how many.
  cargo mutants --no-shuffle --test-tool=nextest --file "${file[$name]}" \
    --output "target/mutants/$name" "${iterate[@]}" -- -p scim-gateway -E "${filter[$name]}" || true
done
