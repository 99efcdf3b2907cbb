# The two commands: `make run` (the service on SQLite, web page and playground included) and
# `make test` (every test, on SQLite and PostgreSQL).

.PHONY: run test web clean bench fuzz mutants

run: web
	scripts/build-deps.sh
	cargo run --release -- serve

test:
	scripts/test.sh

web:
	scripts/build-web.sh

clean:
	cargo clean
	rm -rf web/dist web/node_modules

# Load benchmark (release build): prints the table, then the sign-in latency under attack; BENCH_ARGS="--postgres postgres://postgres@127.0.0.1:5432/postgres" or "--big 100000".
bench:
	scripts/build-deps.sh
	cargo build --release -p scim-gateway -p scim-bench
	target/release/scim-bench run $(BENCH_ARGS)
	target/release/scim-bench sign-in
	cargo bench --bench scim

# Long fuzzing runs (FUZZ_SECONDS per target, default 600): filter, PATCH paths, SCIM bodies.
fuzz:
	scripts/fuzz.sh

# Mutation testing of roles, filter_sql and patch against the tests that exercise them (~35 min).
mutants:
	scripts/mutants.sh
