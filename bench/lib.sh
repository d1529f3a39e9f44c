# Shell functions shared by the benchmark scripts. Source it; it runs
# nothing on its own.

# Ports handed out by free_port in this run, so that two listeners of one
# run never get the same port.
used_ports=" "

# free_port NAME sets the variable NAME to a loopback TCP port that
# nothing listens on and that this run has not handed out before. It sets
# a variable rather than printing, because $(...) would run it in a
# subshell, which loses the list of ports handed out. NAME must not start
# with _fp_, the prefix of its own variables.
#
# A port in the kernel's ephemeral range can be held by the client side
# of a connection, and a listener then cannot bind it. free_port therefore
# picks below that range, or above it when it starts too low.
free_port() {
  if [ $# -ne 1 ]; then
    echo "usage: free_port NAME" >&2
    return 2
  fi
  local _fp_first=32768 _fp_last=60999 _fp_low=20000 _fp_high _fp_port
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r _fp_first _fp_last </proc/sys/net/ipv4/ip_local_port_range
  fi
  _fp_high=$((_fp_first - 1))
  if [ "$_fp_high" -le $((_fp_low + 1000)) ]; then
    _fp_low=$((_fp_last + 1))
    _fp_high=65535
    if [ $((_fp_high - _fp_low)) -lt 1000 ]; then
      # NOTE: the ephemeral range covers almost every port, so a port may
      # still be held by a client; wait_ready then shows the bind error.
      _fp_low=20000
      _fp_high=40000
    fi
  fi
  for _ in $(seq 1 50); do
    _fp_port=$((_fp_low + RANDOM % (_fp_high - _fp_low)))
    case $used_ports in *" $_fp_port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$_fp_port") 2>/dev/null; then
      used_ports="$used_ports$_fp_port "
      printf -v "$1" '%s' "$_fp_port"
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
    # A listener of another process could accept the probe after this one
    # has exited.
    if "$@" >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before it was ready. Last 20 lines of $log:" >&2
      tail -n 20 "$log" | sed 's/^/    /' >&2
      return 1
    fi
    sleep 0.1
  done
  echo "timed out waiting for: $*. Last 20 lines of $log:" >&2
  tail -n 20 "$log" | sed 's/^/    /' >&2
  return 1
}
