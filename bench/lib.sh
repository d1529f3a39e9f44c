# Shell functions shared by the benchmark scripts. Source it; it runs
# nothing on its own.

# Ports handed out by free_port in this run, so that two listeners of one
# run never get the same port.
used_ports=" "

# free_port NAME sets the variable NAME to a loopback TCP port that
# nothing listens on and that this run has not handed out before. It sets
# a variable rather than printing, because $(...) would run it in a
# subshell, which loses the list of ports handed out. It picks below the kernel's
# ephemeral range, where the client side of a connection can hold a port
# that a listener then cannot bind.
free_port() {
  local first=32768 low=20000 high port
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r first _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  high=$((first - 1))
  if [ "$high" -le $((low + 1000)) ]; then
    high=40000 # the ephemeral range starts low: take the usual span
  fi
  for _ in $(seq 1 50); do
    port=$((low + RANDOM % (high - low)))
    case $used_ports in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      used_ports="$used_ports$port "
      printf -v "$1" '%s' "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# wait_ready PID LOG COMMAND... runs COMMAND every 100ms until it
# succeeds, for at most 10s. It fails at once when process PID exits, and
# then, as after a timeout, prints the end of the process's log file LOG.
wait_ready() {
  local pid=$1 log=$2
  shift 2
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before it was ready; the end of $log:" >&2
      tail -n 20 "$log" | sed 's/^/    /' >&2
      return 1
    fi
    sleep 0.1
  done
  echo "timed out waiting for: $*; the end of $log:" >&2
  tail -n 20 "$log" | sed 's/^/    /' >&2
  return 1
}
