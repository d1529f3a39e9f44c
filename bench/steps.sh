#!/usr/bin/env bash
# Measures several commits of mailbridge one after another with the same
# load, to record what each optimisation step changed. Each commit is
# built from `git archive` into a temporary directory. It runs against
# its own fresh loopback nats-server, loaded by the current tree's
# `mailbridge bench`. Everything started is stopped on exit.
#
# Usage: bench/steps.sh COMMIT...        (e.g. bench/steps.sh HEAD~3 HEAD)
# Environment: BENCH_SECONDS (default 8), BENCH_CONCURRENCY (default 8),
# BENCH_CONCURRENCY_1 (default 32), plus any MAILBRIDGE_ variable for the
# bridge, such as MAILBRIDGE_PUBLISH_CONNECTIONS.
set -euo pipefail

cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  echo "usage: bench/steps.sh COMMIT..." >&2
  exit 2
fi
seconds=${BENCH_SECONDS:-8}
concurrency=${BENCH_CONCURRENCY:-8}
concurrency_1=${BENCH_CONCURRENCY_1:-32}

work=$(mktemp -d -t mailbridge-steps.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gobin=$(go env GOBIN)
export PATH="${gobin:-$(go env GOPATH)/bin}:$PATH"
if ! command -v nats-server >/dev/null; then
  go install github.com/nats-io/nats-server/v2@v2.15.3
fi
go build -o "$work/bench" ./cmd/mailbridge

# free_port and wait_ready.
. bench/lib.sh # the scripts run from the repository root
value() { grep "^$1" "$2" | head -1 | sed "s|^$1 *||" | awk '{print $1}'; }

printf '| commit | subject | events/s, 100-event batches | µs CPU/event | req/s, 1-event | µs CPU/event | p99, 1-event |\n'
printf '|---|---|---:|---:|---:|---:|---:|\n'
for commit in "$@"; do
  sha=$(git rev-parse --short "$commit")
  subject=$(git log -1 --format=%s "$commit")
  src="$work/src-$sha"
  mkdir -p "$src"
  git archive "$commit" | tar -x -C "$src"
  (cd "$src" && go build -o "$work/mailbridge-$sha" ./cmd/mailbridge)

  free_port nats_port
  nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$work/js-$sha" >"$work/nats-$sha.log" 2>&1 &
  nats_pid=$!
  pids+=("$nats_pid")
  wait_ready "$nats_pid" "$work/nats-$sha.log" bash -c "exec 3<>/dev/tcp/127.0.0.1/$nats_port"

  free_port http_port
  MAILBRIDGE_NATS_URL="nats://127.0.0.1:$nats_port" MAILBRIDGE_HTTP_ADDR="127.0.0.1:$http_port" \
    "$work/mailbridge-$sha" serve >"$work/bridge-$sha.log" 2>&1 &
  bridge_pid=$!
  pids+=("$bridge_pid")
  wait_ready "$bridge_pid" "$work/bridge-$sha.log" curl -fsS "http://127.0.0.1:$http_port/readyz"

  common=(--url "http://127.0.0.1:$http_port/webhooks/cmc" --nats-url "nats://127.0.0.1:$nats_port" --pid "$bridge_pid")
  "$work/bench" bench "${common[@]}" --batch 100 --concurrency "$concurrency" --duration "${seconds}s" >"$work/batch-$sha.txt" 2>&1 || true
  "$work/bench" bench "${common[@]}" --batch 1 --concurrency "$concurrency_1" --duration "${seconds}s" >"$work/single-$sha.txt" 2>&1 || true

  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$sha" "$subject" \
    "$(value 'events/s:' "$work/batch-$sha.txt")" "$(value 'bridge CPU:' "$work/batch-$sha.txt")" \
    "$(value 'requests/s:' "$work/single-$sha.txt")" "$(value 'bridge CPU:' "$work/single-$sha.txt")" \
    "$(grep '^latency:' "$work/single-$sha.txt" | sed 's/.*p99 \([^ ]*\).*/\1/')"

  kill "$bridge_pid" "$nats_pid" 2>/dev/null || true
  wait "$bridge_pid" "$nats_pid" 2>/dev/null || true
  # The next commit's run should not share the disk with this store's
  # write-back.
  rm -rf "$work/js-$sha"
done
