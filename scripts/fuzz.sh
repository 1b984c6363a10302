#!/usr/bin/env bash
# Runs every fuzz target of the given packages (default ./...) for FUZZTIME
# each (default 8s), one after the other: `go test -fuzz` takes one target
# of one package at a time. Used by make fuzz and .ci/run.
# Usage: FUZZTIME=30s scripts/fuzz.sh [PACKAGES...]
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-8s}"
[ "$#" -gt 0 ] || set -- ./...

# Some targets (stores, rate limits) run against PostgreSQL and Redis.
eval "$(scripts/services.sh)"

n=0
for pkg in $(go list "$@"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "--- $pkg $target (${FUZZTIME})"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
    n=$((n + 1))
  done
done
if [ "$n" -eq 0 ]; then
  echo "fuzz: no fuzz targets in $*" >&2
  exit 1
fi
echo "fuzz: $n targets, ${FUZZTIME} each, no failure"
