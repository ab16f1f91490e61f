#!/usr/bin/env bash
# Make sure the local Postgres the tests use is accepting connections.
#
# If nothing answers on 127.0.0.1:5432 and this is a Debian-style install (pg_ctlcluster),
# start the first cluster. Anywhere else, carry on: the Postgres tests then skip locally and
# fail in CI, which is the suite's own decision, not this script's.
set -uo pipefail

HOST="${PGHOST_CHECK:-127.0.0.1}"
PORT="${PGPORT_CHECK:-5432}"

if ! command -v pg_isready >/dev/null 2>&1; then
    echo "ensure_postgres: pg_isready not found; not starting Postgres" >&2
    exit 0
fi

if pg_isready -q -h "$HOST" -p "$PORT"; then
    exit 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
    echo "ensure_postgres: Postgres is not up and pg_ctlcluster is unavailable; continuing" >&2
    exit 0
fi

version="$(ls /etc/postgresql | sort -V | tail -n 1)"
if [ -z "$version" ]; then
    echo "ensure_postgres: no cluster under /etc/postgresql; continuing" >&2
    exit 0
fi

echo "ensure_postgres: starting Postgres $version/main" >&2
if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
    echo "ensure_postgres: could not start Postgres $version/main; continuing" >&2
    exit 0
fi

# Wait for it to accept connections (up to ~30 s) rather than racing the first test.
for _ in $(seq 1 60); do
    if pg_isready -q -h "$HOST" -p "$PORT"; then
        exit 0
    fi
    sleep 0.5
done
echo "ensure_postgres: Postgres did not become ready in time; continuing" >&2
exit 0
