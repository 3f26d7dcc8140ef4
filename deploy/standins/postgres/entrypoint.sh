#!/bin/bash
# The stand-in postgres image's entrypoint. On the first start (an empty PGDATA) it makes
# a cluster whose superuser is POSTGRES_USER (default postgres) with POSTGRES_PASSWORD,
# creates POSTGRES_DB (default: the user's name), and lets any address in with a
# password (scram-sha-256); local socket connections inside the container are trusted.
# Then, or on any later start, it runs the server as the postgres user in the foreground.
# Arguments starting with "-" are given to postgres; any other command is run as it is.
set -euo pipefail

if [ "${1:0:1}" = "-" ]; then
  set -- postgres "$@"
fi
if [ "$1" != "postgres" ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "entrypoint: POSTGRES_PASSWORD is required to initialise the database" >&2
    exit 1
  fi
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  password_file="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$database" != "postgres" ]; then
    # A server on the socket only while the database is made: no client can reach it
    # over the network (or see it ready) before the first start is complete.
    pg_ctl --pgdata="$PGDATA" --wait --options="-c listen_addresses=''" start
    psql --username="$user" --dbname=postgres --set=ON_ERROR_STOP=1 \
      --set=database="$database" --set=owner="$user" \
      <<<'CREATE DATABASE :"database" OWNER :"owner";'
    pg_ctl --pgdata="$PGDATA" --wait --mode=fast stop
  fi
  echo "entrypoint: database $database initialised for $user"
fi

exec "$@"
