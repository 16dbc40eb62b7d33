#!/usr/bin/env bash
# Parley benchmark: authenticated GET /v1/workspaces/{id} and POST /v1/workspaces through the
# real HTTP stack, on SQLite and (when PARLEY_BENCH_POSTGRES_URL is set) on PostgreSQL.
#
#   bash bench/run.sh
#   PARLEY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/run.sh
#
# PARLEY_BENCH_POSTGRES_URL names a server and a database this script may connect to in order
# to CREATE and DROP a scratch database (parley_bench_<random>); your data is not touched.
# Knobs: PARLEY_BENCH_DURATION (10s), PARLEY_BENCH_CONCURRENCY (32), PARLEY_BENCH_ADDR
# (127.0.0.1:18080), PARLEY_BENCH_STORES ("sqlite postgres"), PARLEY_BENCH_REV (empty = build the
# server from the working tree; a commit such as HEAD = build it from a clean `git archive` of
# that commit, so uncommitted work in progress neither breaks nor skews the run).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

dur="${PARLEY_BENCH_DURATION:-10s}"
conc="${PARLEY_BENCH_CONCURRENCY:-32}"
addr="${PARLEY_BENCH_ADDR:-127.0.0.1:18080}"
stores="${PARLEY_BENCH_STORES:-sqlite postgres}"
pg_url="${PARLEY_BENCH_POSTGRES_URL:-}"
rev="${PARLEY_BENCH_REV:-}"
bin="$root/bench/bin" # build output (git-ignored), kept under bench/ so it never races a `make build`
base="http://$addr"

server_pid=""
tmp_dir=""
src_dir=""
pg_db=""
pg_admin=""

cleanup() {
	local rc=$?
	stop_server || true
	if [[ -n "$pg_db" ]]; then
		psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
		pg_db=""
	fi
	if [[ -n "$tmp_dir" ]]; then
		rm -rf "$tmp_dir"
		tmp_dir=""
	fi
	if [[ -n "$src_dir" ]]; then
		rm -rf "$src_dir"
		src_dir=""
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server() {
	if [[ -n "$server_pid" ]]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}

# cpu_ticks PID: user+system CPU time of the process in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# busy_ticks: busy CPU time of the whole machine (all cores) in clock ticks.
busy_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat 2>/dev/null || echo 0
}

echo "== building"
if [[ -n "$rev" ]]; then
	commit="$(git rev-parse --verify "$rev^{commit}")"
	src_dir="$(mktemp -d -t parley-bench-src.XXXXXX)"
	git archive "$commit" | tar -x -C "$src_dir"
	(cd "$src_dir" && go build -o "$bin/parley" ./cmd/parley)
	rm -rf "$src_dir"
	src_dir=""
	echo "server: commit $commit (clean export)"
else
	go build -o "$bin/parley" ./cmd/parley
	dirty=""
	if [[ -n "$(git status --porcelain -- . ':(exclude)bench' 2>/dev/null)" ]]; then
		dirty=" + uncommitted changes"
	fi
	echo "server: working tree at $(git rev-parse HEAD 2>/dev/null || echo '(no git)')$dirty"
fi
go build -o "$bin/load" ./bench/load

if curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; then
	echo "something already listens on $addr; set PARLEY_BENCH_ADDR" >&2
	exit 1
fi

ticks_per_s="$(getconf CLK_TCK)"
summary=()

# run_load LABEL SCENARIO [RATE]: one load run; prints its output, appends its table row to
# summary and sets last_rps.
run_load() {
	local label="$1" scenario="$2" rate="${3:-0}" out t0 t1 m0 m1
	t0="$(cpu_ticks "$server_pid")"
	m0="$(busy_ticks)"
	out="$("$bin/load" -url "$base" -c "$conc" -d "$dur" -rate "$rate" -scenario "$scenario" -label "$label" 2>&1)" || {
		echo "$out" >&2
		exit 1
	}
	t1="$(cpu_ticks "$server_pid")"
	m1="$(busy_ticks)"
	echo "$out" | grep -v '^|'
	local secs
	secs="$(echo "$out" | sed -n 's/^RESULT .* elapsed_s=\([0-9.]*\) .*/\1/p')"
	echo "server CPU: $(awk -v a="$t0" -v b="$t1" -v h="$ticks_per_s" -v s="$secs" 'BEGIN { printf "%.2f s (%.0f%% of one core over %ss)", (b-a)/h, 100*(b-a)/h/s, s }')"
	last_rps="$(echo "$out" | sed -n 's/^RESULT .* rps=\([0-9.]*\) .*/\1/p')"
	local n load_cpu
	n="$(echo "$out" | sed -n 's/^RESULT .* requests=\([0-9]*\) .*/\1/p')"
	load_cpu="$(echo "$out" | sed -n 's/^RESULT .* cpu_s=\([0-9.]*\) .*/\1/p')"
	# Everything else that ran meanwhile (PostgreSQL, other jobs on the box), in cores.
	local other
	other="$(awk -v a="$t0" -v b="$t1" -v m0="$m0" -v m1="$m1" -v h="$ticks_per_s" -v s="$secs" -v l="$load_cpu" \
		'BEGIN { o = ((m1-m0) - (b-a)) / h - l; if (o < 0) o = 0; printf "%.2f", o / s }')"
	echo "machine: $(awk -v m0="$m0" -v m1="$m1" -v h="$ticks_per_s" -v s="$secs" 'BEGIN { printf "%.2f", (m1-m0)/h/s }') of $(nproc) cores busy; other processes ${other} cores"
	# CPU per request, in µs: the server's (not counting PostgreSQL's own processes) and the load generator's.
	summary+=("$(echo "$out" | grep '^| '"$label"' |') $(awk -v a="$t0" -v b="$t1" -v h="$ticks_per_s" -v n="$n" -v l="$load_cpu" \
		'BEGIN { if (n > 0) printf "%.0f µs | %.0f µs |", 1e6*(b-a)/h/n, 1e6*l/n; else printf "- | - |" }') $other |")
}

# bench_store LABEL [DATABASE_URL]
bench_store() {
	local label="$1" db_url="${2:-}"
	tmp_dir="$(mktemp -d -t parley-bench.XXXXXX)"
	local args=(serve --addr "$addr" --data-dir "$tmp_dir/data" --log-level warn)
	if [[ -n "$db_url" ]]; then
		args+=(--database-url "$db_url")
	fi
	echo
	echo "== $label: starting parley ${args[*]}"
	"$bin/parley" "${args[@]}" >"$tmp_dir/server.log" 2>&1 &
	server_pid=$!
	local ok=""
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then
			ok=1
			break
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	if [[ -z "$ok" ]]; then
		echo "parley did not become ready; its log:" >&2
		cat "$tmp_dir/server.log" >&2
		exit 1
	fi

	run_load "$label" read
	local read_max="$last_rps"
	run_load "$label" write
	local write_max="$last_rps"
	# Half the measured maximum, open loop: the latency a server sees when it is not saturated.
	run_load "$label" read "$(awk -v r="$read_max" 'BEGIN { printf "%d", r / 2 }')"
	run_load "$label" write "$(awk -v r="$write_max" 'BEGIN { printf "%d", r / 2 }')"

	echo "server peak RSS: $(awk '/^VmHWM/ { print $2, $3 }' "/proc/$server_pid/status")"
	stop_server
	# The fresh data dir's "generated a new master key" warnings are expected; anything else is shown.
	local warnings
	warnings="$(grep -iE '"level":"(WARN|ERROR)"|level=(WARN|ERROR)' "$tmp_dir/server.log" | grep -vi 'master key' || true)"
	if [[ -n "$warnings" ]]; then
		echo "server warnings/errors (first 10):"
		echo "$warnings" | head -10
	fi
	rm -rf "$tmp_dir"
	tmp_dir=""
}

for store in $stores; do
	case "$store" in
	sqlite)
		bench_store sqlite
		;;
	postgres)
		if [[ -z "$pg_url" ]]; then
			echo
			echo "== postgres: skipped (set PARLEY_BENCH_POSTGRES_URL)"
			continue
		fi
		pg_admin="$pg_url"
		pg_db="parley_bench_$(date +%s)_$RANDOM"
		psql -q "$pg_admin" -c "CREATE DATABASE $pg_db" >/dev/null
		# Same server and options, the scratch database instead of the admin one.
		url_path="${pg_url%%\?*}"
		url_query=""
		[[ "$pg_url" == *\?* ]] && url_query="?${pg_url#*\?}"
		bench_store postgres "${url_path%/*}/$pg_db$url_query"
		psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
		pg_db=""
		;;
	*)
		echo "unknown store $store (sqlite, postgres)" >&2
		exit 1
		;;
	esac
done

echo
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | awk '{ print $3 }'))"
echo "| store | scenario | c | target rate | requests | errors | req/s | p50 | p90 | p99 | max | server CPU/req | load CPU/req | other busy cores |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
