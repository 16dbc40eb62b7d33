.PHONY: test build run bench

# The test suite: SQLite always, PostgreSQL too when PARLEY_TEST_POSTGRES_URL is set.
test:
	go test -race -count=1 -timeout 60m ./...

build:
	go build -o bin/parley ./cmd/parley

run:
	go run ./cmd/parley serve

bench:
	go run ./bench/load -h
