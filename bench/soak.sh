#!/usr/bin/env bash
# Soaks mailbridge serve: measures its capacity for 10 seconds, then posts
# at half of it for DURATION (default 10m) against a local JetStream
# server on loopback, sampling goroutines, resident memory and open files
# from /metrics. Ends with a flatness verdict and a non-zero exit when
# any of them grew.
#
# Usage: bench/soak.sh [DURATION]     e.g. bench/soak.sh 10m
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-10m}"
MAILBRIDGE_SOAK_DURATION="$duration" go test ./internal/reliability \
  -run '^TestSoak$' -count=1 -v -timeout 2h
