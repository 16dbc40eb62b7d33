#!/usr/bin/env bash
# Maximum authenticated read and write rates measured with wrk (a C load generator, lighter on
# this 2-core machine than bench/load): GET /v1/workspaces/{id} and POST /v1/workspaces with a
# session cookie, 10 s each at 32 connections, on SQLite and (with PARLEY_BENCH_POSTGRES_URL) on
# PostgreSQL. Latency at a fixed, lower rate is bench/run.sh's job (open loop, bench/load).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
dur="${PARLEY_BENCH_DURATION:-10s}"
conns="${PARLEY_BENCH_CONNECTIONS:-32}"
port=18282
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
pid=""
db=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	[ -n "$db" ] && psql -q "$PARLEY_BENCH_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/parley" ./cmd/parley
cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"Bench"}'
wrk.headers["Content-Type"] = "application/json"
LUA

run() { # run STORE [DATABASE_URL]
	local store=$1 url=${2:-}
	"$work/parley" serve --addr 127.0.0.1:$port --data-dir "$work/data-$store" ${url:+--database-url "$url"} --log-level warn >"$work/$store.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
	curl -fs -c "$work/cookies" -H 'Content-Type: application/json' \
		-d '{"email":"wrk@example.com","password":"bench passphrase 123"}' "$base/v1/auth/signup" >/dev/null
	local cookie ws
	cookie="parley_session=$(awk '/parley_session/ {print $7}' "$work/cookies")"
	ws=$(curl -fs -b "$work/cookies" -H 'Content-Type: application/json' -d '{"name":"Bench"}' "$base/v1/workspaces" |
		sed -E 's/.*"id":"(ws_[a-z0-9]+)".*/\1/')
	echo "== $store: read  GET /v1/workspaces/$ws  ($conns connections, $dur)"
	wrk -t2 -c"$conns" -d"$dur" --latency -H "Cookie: $cookie" "$base/v1/workspaces/$ws" | grep -E 'Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket'
	echo "== $store: write POST /v1/workspaces  ($conns connections, $dur)"
	wrk -t2 -c"$conns" -d"$dur" --latency -s "$work/post.lua" -H "Cookie: $cookie" "$base/v1/workspaces" | grep -E 'Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket'
	kill -TERM "$pid"
	wait "$pid" || true
	pid=""
}

run sqlite
if [ -n "${PARLEY_BENCH_POSTGRES_URL:-}" ]; then
	db="parley_wrk_$RANDOM$RANDOM"
	psql -q "$PARLEY_BENCH_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
	run postgres "$(echo "$PARLEY_BENCH_POSTGRES_URL" | sed -E "s#/[^/?]*(\?|$)#/$db\1#")"
fi
