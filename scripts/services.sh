#!/usr/bin/env bash
# Starts (when needed) the PostgreSQL and Redis the integration tests use and
# prints the environment variables that point the tests at them.
# Usage: eval "$(scripts/services.sh)"
set -euo pipefail

log() { echo "services: $*" >&2; }

if ! command -v pg_isready >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing postgresql and redis-server"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >&2
  else
    log "PostgreSQL/Redis are not installed; integration tests will skip"
  fi
fi

if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    # The machines here use trust auth and a database named test; create it if missing.
    if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'select 1' >/dev/null 2>&1; then
      psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test' >&2 || true
    fi
    # 127.0.0.1 is trusted for every role, so no wrong password is ever refused.
    # Tests that must see one refused (pgrotate: the old password of a rotated
    # role) make their roles members of rampart_password_login, whose members
    # authenticate with SCRAM-SHA-256 (PostgreSQL docs, 21.1 The pg_hba.conf
    # File: the first matching line wins; "+group" matches its members).
    hba=$(psql -h 127.0.0.1 -U postgres -d test -Atqc 'SHOW hba_file' 2>/dev/null || true)
    if [ -n "$hba" ] && [ -w "$hba" ] && ! grep -q 'rampart_password_login' "$hba"; then
      log "requiring passwords of the members of rampart_password_login in $hba"
      sed -i '1i host all +rampart_password_login 127.0.0.1/32 scram-sha-256' "$hba"
      psql -h 127.0.0.1 -U postgres -d test -Atqc 'SELECT pg_reload_conf()' >/dev/null
    fi
    psql -h 127.0.0.1 -U postgres -d test -qc "DO \$\$ BEGIN CREATE ROLE rampart_password_login NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END \$\$" >&2 || true
    echo "export RAMPART_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'"
  else
    log "PostgreSQL is not reachable on 127.0.0.1:5432; its tests will skip"
  fi
fi

if command -v redis-server >/dev/null 2>&1; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "export RAMPART_TEST_REDIS_URL='redis://127.0.0.1:6379/0'"
  else
    log "Redis is not reachable on 127.0.0.1:6379; its tests will skip"
  fi
fi
