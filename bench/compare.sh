#!/usr/bin/env bash
# Measures, in one run on this machine, JetStream's own publish benchmark
# (nats bench js pub async, and the atomic and fast batch publish modes)
# and mailbridge on the same NATS server, then prints the ratios. nats
# bench publishes messages of mailbridge's shape: as many subjects, the
# same CloudEvents headers and the same average size, read from a warm-up
# through the bridge (mailbridge bench --nats-bench-flags). One more async
# run with plain messages of BENCH_MSG_SIZE is the reference that JetStream's
# own figures are usually quoted for. mailbridge then stores as many events
# in 100-event batches. 1-event requests are measured afterwards on fresh
# processes. It does all this twice:
#   embedded  The default `mailbridge serve`, with its embedded NATS server
#             in the same process. nats bench connects to it over TCP.
#   external  `mailbridge serve` with MAILBRIDGE_NATS_URL set, against a
#             nats-server of its own. The bridge's memory is then its own.
#
# Everything listens on 127.0.0.1 and lives in a temporary directory that
# is removed on exit, with every process this script started. Installs
# nats (natscli v0.5.0) and nats-server v2.15.3 with go install when they
# are missing. Takes about 2 to 3 minutes.
#
# Environment variables, all optional:
#
#   BENCH_MODES         modes to run, in order (default "embedded external")
#   BENCH_MSG_SIZE      message size of the plain nats bench run (default 700B)
#   BENCH_NATS_MSGS     messages per nats bench run, and events in the
#                       100-event run (default 300000)
#   BENCH_SECONDS       seconds per 1-event run (default 15)
#   BENCH_CONCURRENCY   requests in flight, 100-event batches (default 8)
#   BENCH_CONCURRENCY_1 requests in flight, 1-event requests (default 64)
#   BENCH_LATENCY_RATE  rate of the first paced 1-event run (default 10000,
#                       half the 20,000 req/s target); a second paced run
#                       follows at half the rate just measured
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

msg_size=${BENCH_MSG_SIZE:-700B}
nats_msgs=${BENCH_NATS_MSGS:-300000}
seconds=${BENCH_SECONDS:-15}
concurrency=${BENCH_CONCURRENCY:-8}
concurrency_1=${BENCH_CONCURRENCY_1:-64}
target_half_rate=${BENCH_LATENCY_RATE:-10000}

work=$(mktemp -d -t mailbridge-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Tools.
gobin=$(go env GOBIN)
gobin=${gobin:-$(go env GOPATH)/bin}
export PATH="$gobin:$PATH"
if ! command -v nats >/dev/null || [ "$(nats --version 2>&1)" != "v0.5.0" ]; then
  log "installing nats (natscli v0.5.0)"
  go install github.com/nats-io/natscli/nats@v0.5.0
fi
if ! command -v nats-server >/dev/null || ! nats-server --version | grep -q 'v2.15.3'; then
  log "installing nats-server v2.15.3"
  go install github.com/nats-io/nats-server/v2@v2.15.3
fi
log "building mailbridge"
go build -o "$work/mailbridge" ./cmd/mailbridge

# free_port and wait_ready.
. bench/lib.sh # the scripts run from the repository root

# nats_bench URL MODE EXTRA... runs one nats bench publisher and prints
# its msgs/sec.
nats_bench() {
  local url=$1 mode=$2
  shift 2
  local out="$work/nats-bench-$mode.txt"
  # Each run creates the stream afresh: the runs differ in subjects.
  nats -s "$url" stream rm benchstream -f >/dev/null 2>&1 || true
  nats -s "$url" bench js pub "$mode" bench.ceiling --create --purge \
    --storage file --replicas 1 --dedup \
    --msgs "$nats_msgs" --no-progress "$@" >"$out" 2>&1
  if ! grep -q 'stats: [0-9,]* msgs/sec' "$out"; then
    log "nats bench js pub $mode failed:"
    sed 's/^/    /' "$out" >&2
    exit 1
  fi
  grep -o 'stats: [0-9,]* msgs/sec' "$out" | head -1 | tr -dc '0-9'
}

# stored_size URL STREAM prints the stream's average stored message size:
# subject, headers, data and JetStream's record overhead.
stored_size() {
  local info bytes msgs
  info=$(nats -s "$1" stream info "$2" --json 2>/dev/null || true)
  bytes=$(printf '%s' "$info" | grep -o '"bytes": *[0-9]*' | head -1 | tr -dc '0-9')
  msgs=$(printf '%s' "$info" | grep -o '"messages": *[0-9]*' | head -1 | tr -dc '0-9')
  if [ -n "$bytes" ] && [ -n "$msgs" ] && [ "$msgs" -gt 0 ]; then
    echo $((bytes / msgs))
  else
    echo "?"
  fi
}

# bridge_bench NAME FLAGS... runs mailbridge bench and keeps its report.
bridge_bench() {
  local name=$1
  shift
  local out="$work/bench-$name.txt"
  local status=0
  "$work/mailbridge" bench --url "$base/webhooks/cmc" --nats-url "$nats_url" \
    --pid "$bridge_pid" "$@" >"$out" 2>&1 || status=$?
  sed 's/^/    /' "$out" >&2
  if [ "$status" -ne 0 ]; then
    log "  mailbridge bench $name exited $status"
  fi
}
field() { grep "^$1" "$work/bench-$2.txt" | head -1 | sed "s|^$1 *||"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
row() { printf '| %-46s | %16s | %20s | %15s |\n' "$1" "$2" "$3" "$4"; }

# peak_rss PID prints the peak resident memory (VmHWM) of a running
# process in MiB.
peak_rss() {
  awk '/^VmHWM:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"
}

# stop_processes stops what start_processes started and removes their
# stores, so that the kernel does not write the phase's files back to
# disk while the next phase runs.
stop_processes() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  rm -rf "$work"/data-* "$work"/jetstream-*
}

# start_processes MODE PHASE starts mailbridge serve, and in the external
# mode a nats-server, on fresh ports and a fresh store, and sets nats_url,
# base, bridge_pid and, in the external mode, server_pid.
start_processes() {
  local mode=$1 phase=$2
  local nats_port http_port
  free_port nats_port
  free_port http_port
  nats_url="nats://127.0.0.1:$nats_port"
  base="http://127.0.0.1:$http_port"
  case $mode in
  embedded)
    # The default serve, with the suppression list and alerting off so
    # that only the ingress and its NATS server share the process.
    MAILBRIDGE_EMBEDDED_NATS_ADDR="127.0.0.1:$nats_port" MAILBRIDGE_DATA_DIR="$work/data-$mode-$phase" \
      MAILBRIDGE_HTTP_ADDR="127.0.0.1:$http_port" MAILBRIDGE_SUPPRESSOR=false MAILBRIDGE_ALERTER=false \
      "$work/mailbridge" serve >"$work/mailbridge-$mode-$phase.log" 2>&1 &
    bridge_pid=$!
    pids+=("$bridge_pid")
    wait_ready "$bridge_pid" "$work/mailbridge-$mode-$phase.log" curl -fsS "$base/readyz"
    log "mailbridge (pid $bridge_pid) on $base, its embedded NATS server on $nats_url"
    ;;
  external)
    nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$work/jetstream-$phase" >"$work/nats-server-$phase.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    wait_ready "$server_pid" "$work/nats-server-$phase.log" bash -c "exec 3<>/dev/tcp/127.0.0.1/$nats_port"
    log "nats-server $(nats-server --version | awk '{print $2}') on $nats_url"
    MAILBRIDGE_NATS_URL="$nats_url" MAILBRIDGE_HTTP_ADDR="127.0.0.1:$http_port" \
      "$work/mailbridge" serve >"$work/mailbridge-$mode-$phase.log" 2>&1 &
    bridge_pid=$!
    pids+=("$bridge_pid")
    wait_ready "$bridge_pid" "$work/mailbridge-$mode-$phase.log" curl -fsS "$base/readyz"
    log "mailbridge (pid $bridge_pid) on $base"
    ;;
  esac
}

# measure MODE measures in two phases and appends the mode's table to
# $work/report.txt.
#
# Throughput: nats bench and then mailbridge with 100-event batches, on one
# NATS server, each storing the same number of messages. JetStream keeps
# every message id of its 2-minute duplicate window in memory, per stream.
# nats bench starts each run on a new stream, so the bridge starts from a
# stream that holds only its warm-up, and stores as many messages.
#
# Latency: 1-event requests on fresh processes, so that the ids of the
# throughput phase do not weigh on them. They go as fast as they can,
# then paced at 10,000 req/s (half the 20,000 req/s of the target), then
# at half the rate just measured. Each paced run adds the ids of its
# requests to the duplicate window, so the last run is the hardest.
measure() {
  local mode=$1

  log "== $mode mode, throughput"
  start_processes "$mode" throughput

  # A few batches through the bridge give the shape of its messages
  # (subjects, headers, average size), so that nats bench can publish
  # messages that JetStream stores at the same cost.
  log "mailbridge, 20 warm-up batches of 100 events, to read the shape of its messages"
  bridge_bench "$mode-warmup" --batch 100 --concurrency 2 --count 20
  local shape=()
  mapfile -t shape < <("$work/mailbridge" bench --nats-url "$nats_url" --nats-bench-flags bench.ceiling)
  if [ "${#shape[@]}" -eq 0 ]; then
    log "could not read the shape of mailbridge's messages"
    exit 1
  fi
  log "  nats bench flags for that shape: ${shape[*]}"

  log "nats bench js pub async ($nats_msgs msgs of $msg_size, file storage, R1, dedup)"
  local async_rate shaped_rate atomic_rate fast_rate
  async_rate=$(nats_bench "$nats_url" async --batch 500 --size "$msg_size")
  log "  $async_rate msgs/s"
  log "nats bench js pub async with mailbridge's message shape"
  shaped_rate=$(nats_bench "$nats_url" async --batch 500 "${shape[@]}")
  local shaped_size
  shaped_size=$(stored_size "$nats_url" benchstream)
  log "  $shaped_rate msgs/s, $shaped_size bytes stored per message"
  log "nats bench js pub atomic with that shape (batches of 500)"
  atomic_rate=$(nats_bench "$nats_url" atomic --batch 500 "${shape[@]}")
  log "  $atomic_rate msgs/s"
  log "nats bench js pub fast with that shape (batches of 500)"
  fast_rate=$(nats_bench "$nats_url" fast --batch 500 "${shape[@]}")
  log "  $fast_rate msgs/s"
  nats -s "$nats_url" stream rm benchstream -f >/dev/null 2>&1 || true

  local requests=$(((nats_msgs + 99) / 100))
  log "mailbridge, $requests requests of 100 events ($((requests * 100)) events), concurrency $concurrency"
  bridge_bench "$mode-batch100" --batch 100 --concurrency "$concurrency" --count "$requests"
  local bridge_size
  bridge_size=$(stored_size "$nats_url" MAIL)
  local server_rss_throughput="" server_rss_latency=""
  if [ "$mode" = external ]; then
    server_rss_throughput=$(peak_rss "$server_pid")
  fi
  stop_processes

  log "== $mode mode, latency"
  start_processes "$mode" latency
  log "mailbridge, 1-event requests, concurrency $concurrency_1, ${seconds}s"
  bridge_bench "$mode-single" --batch 1 --concurrency "$concurrency_1" --duration "${seconds}s"
  local single_rps half_rate
  single_rps=$(field 'requests/s:' "$mode-single")
  log "mailbridge, 1-event requests at $target_half_rate req/s (half the 20,000 req/s target), ${seconds}s"
  bridge_bench "$mode-target-half" --batch 1 --concurrency "$concurrency_1" --rate "$target_half_rate" --duration "${seconds}s"
  half_rate=$((single_rps / 2))
  log "mailbridge, 1-event requests at half the rate just measured ($half_rate req/s), ${seconds}s"
  bridge_bench "$mode-half" --batch 1 --concurrency "$concurrency_1" --rate "$half_rate" --duration "${seconds}s"
  if [ "$mode" = external ]; then
    server_rss_latency=$(peak_rss "$server_pid")
  fi
  stop_processes

  local batch_eps
  batch_eps=$(field 'events/s:' "$mode-batch100")
  errors_of() { field 'errors:' "$1" | awk '{print $1}'; }
  stream_of() { field 'stream:' "$1" | awk '{print $NF}'; }
  local memory="bridge peak RSS (VmHWM)"
  if [ "$mode" = embedded ]; then
    memory="bridge and its NATS server, peak RSS (VmHWM)"
  fi
  {
    echo
    case $mode in
    embedded) echo "embedded mode: mailbridge serve with its NATS server in the same process" ;;
    external) echo "external mode: mailbridge serve against its own nats-server process" ;;
    esac
    echo
    row "measurement" "msgs or events/s" "vs async, same shape" "vs async, $msg_size"
    row "----------------------------------------------" "----------------" "--------------------" "---------------"
    row "nats bench js pub async, mailbridge's shape" "$shaped_rate" "1.00x" "$(ratio "$shaped_rate" "$async_rate")"
    row "nats bench js pub async ($msg_size, batch 500)" "$async_rate" "$(ratio "$async_rate" "$shaped_rate")" "1.00x"
    row "nats bench js pub atomic, mailbridge's shape" "$atomic_rate" "$(ratio "$atomic_rate" "$shaped_rate")" "$(ratio "$atomic_rate" "$async_rate")"
    row "nats bench js pub fast, mailbridge's shape" "$fast_rate" "$(ratio "$fast_rate" "$shaped_rate")" "$(ratio "$fast_rate" "$async_rate")"
    row "mailbridge, 100-event batches (json)" "$batch_eps" "$(ratio "$batch_eps" "$shaped_rate")" "$(ratio "$batch_eps" "$async_rate")"
    echo
    echo "100-event batches: $(field 'latency:' "$mode-batch100"); errors $(errors_of "$mode-batch100"); stream $(stream_of "$mode-batch100"); $(field 'bridge CPU:' "$mode-batch100")"
    echo "1-event requests:  $single_rps req/s; $(field 'latency:' "$mode-single"); errors $(errors_of "$mode-single"); stream $(stream_of "$mode-single"); $(field 'bridge CPU:' "$mode-single")"
    echo "1-event at $target_half_rate req/s (half the target): $(field 'latency:' "$mode-target-half"); errors $(errors_of "$mode-target-half"); stream $(stream_of "$mode-target-half")"
    echo "1-event at $half_rate req/s (half the measured rate): $(field 'latency:' "$mode-half"); errors $(errors_of "$mode-half"); stream $(stream_of "$mode-half")"
    echo "$memory: $(field 'bridge peak RSS:' "$mode-batch100") in the throughput phase, $(field 'bridge peak RSS:' "$mode-half") in the latency phase"
    if [ "$mode" = external ]; then
      # nats bench's runs are part of the throughput phase's figure.
      echo "nats-server peak RSS (VmHWM), JetStream alone: $server_rss_throughput in the throughput phase, $server_rss_latency in the latency phase"
    fi
    echo "stored message size, average of subject, headers, data and record: mailbridge $bridge_size bytes, nats bench with mailbridge's shape $shaped_size bytes"
    echo "nats bench flags for mailbridge's shape: ${shape[*]}"
  } >>"$work/report.txt"
}

: >"$work/report.txt"
for mode in ${BENCH_MODES:-embedded external}; do
  case $mode in
  embedded | external) measure "$mode" ;;
  *)
    echo "unknown mode in BENCH_MODES: $mode (use embedded, external, or \"embedded external\" for both)" >&2
    exit 2
    ;;
  esac
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -h | awk '/^Mem:/ {print $2}') memory"
echo "nats-server $(nats-server --version | awk '{print $2}'), natscli $(nats --version 2>&1), $(go version | awk '{print $3}')"
cat "$work/report.txt"
