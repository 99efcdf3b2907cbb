# The two commands: `make run` (the service on SQLite, web page and playground included) and
# `make test` (every test, on SQLite and PostgreSQL).

.PHONY: run test web clean

run: web
	cargo run --release -- serve

test:
	scripts/test.sh

web:
	scripts/build-web.sh

clean:
	cargo clean
	rm -rf web/dist web/node_modules
