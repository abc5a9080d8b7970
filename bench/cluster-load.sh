#!/usr/bin/env bash
# Load on loopback against 1, 2 and 3 `lector serve` nodes sharing one
# private PostgreSQL server, and against one node on its embedded SQLite:
# accepted submissions per second (clients spread over the nodes), and
# end-to-end latency (p50, p99: submit, follow the events, succeeded) of a
# small image, with the synthetic engine so that the figures are the
# service's and the database's, not OCR's. It also reports the database
# server's CPU time per task (every PostgreSQL process of the private
# server, from /proc), the measured cost behind the paper estimate in
# docs/BENCHMARKS.md.
#
#   bench/cluster-load.sh                    # defaults below
#   NODES="1 3" SUBMIT_FOR=3s bench/cluster-load.sh
#   PGURL_EXTRA='&pool_max_conns=4' NODES=1 bench/cluster-load.sh   # appended to the database URL
#
# Needs Debian's postgresql package (make setup installs it); run as root it
# runs the server as the postgres user.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_THREAD_LIMIT=1
IMAGE=${IMAGE:-../shared/eval/lines/010001.bin.png}
NODES=${NODES:-1 2 3}
CLIENTS=${CLIENTS:-8}
REQUESTS=${REQUESTS:-10}
SUBMIT_FOR=${SUBMIT_FOR:-5s}
PORT=${PORT:-18100}
source bench/lib.sh # build_lector
build_lector
go build -o bin/loadgen ./bench/loadgen
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d)
chmod 755 "$work"
pids=()
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -d "$work/pg" ] && as_pg "$PGBIN/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

start_pg() {
  mkdir -p "$work/pg" && chmod 755 "$work/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres "$work/pg"
  as_pg "$PGBIN/initdb" -D "$work/pg/data" -U lector --auth=trust -E UTF8 --no-sync --no-instructions >/dev/null
  # Debian's defaults (fsync on): the figures are a real server's.
  as_pg "$PGBIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -o "-k $work/pg -c listen_addresses='' -c max_connections=200" -w start >/dev/null
}
pg_cpu_ticks() { # user+system ticks of the server and its backends
  local pm t=0 p
  pm=$(head -1 "$work/pg/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do
    [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat)))
  done
  echo "$t"
}

nodes_started=0
start_node() { # start_node NAME ARGS… ; sets addr to the node's address
  local name=$1; shift
  local port=$((PORT + nodes_started))
  nodes_started=$((nodes_started + 1))
  mkdir -p "$work/$name"
  # Bounds high enough that the submission run measures acceptance, not queue_full.
  bin/lector serve --listen 127.0.0.1:$port --data-dir "$work/$name" --enable-synthetic \
    --max-queued-tasks 1000000 --max-queued-per-subject 1000000 "$@" >"$work/$name/out" 2>"$work/$name/log" &
  pids+=($!)
  for _ in $(seq 200); do grep -q listening "$work/$name/out" 2>/dev/null && break; sleep 0.05; done
  grep -q listening "$work/$name/out" || { echo "node $name did not start:" >&2; cat "$work/$name/log" >&2; exit 1; }
  addr="http://127.0.0.1:$port"
}
stop_nodes() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}

echo "# $(nproc --all) cores; image $(basename "$IMAGE") ($(stat -c %s "$IMAGE") bytes); model synthetic:1MiB; $CLIENTS clients; submissions for $SUBMIT_FOR"
run() { # run LABEL SERVERS
  echo "## $1"
  bin/loadgen --server "$2" --file "$IMAGE" --clients "$CLIENTS" --requests "$REQUESTS" --submit-for "$SUBMIT_FOR" \
    --model synthetic:1MiB --modes submit,async
}

start_node sqlite
run "1 node, SQLite" "$addr"
stop_nodes

start_pg
db=1
for n in $NODES; do
  as_pg "$PGBIN/createdb" -h "$work/pg" -U lector "b$db"
  url="postgres://lector@/b$db?host=$work/pg${PGURL_EXTRA:-}"
  servers=""
  for i in $(seq "$n"); do
    start_node "pg$db-$i" --database "$url"
    servers+="${servers:+,}$addr"
  done
  t0=$(pg_cpu_ticks)
  run "$n node(s), PostgreSQL" "$servers"
  t1=$(pg_cpu_ticks)
  tasks=$(psql -h "$work/pg" -U lector -d "b$db" -Atc "SELECT count(*) FROM lector_tasks")
  hz=$(getconf CLK_TCK)
  awk -v t=$((t1 - t0)) -v n="$tasks" -v hz="$hz" 'BEGIN { printf "# database CPU: %.2f s for %d tasks = %.2f ms per task\n", t / hz, n, 1000 * t / hz / n }'
  stop_nodes
  db=$((db + 1))
done
