#!/bin/bash
# The stand-in redis image's entrypoint. Arguments starting with "-" (or a .conf file)
# are given to redis-server. redis-server started without a configuration file of its
# own that sets protected-mode gets `--protected-mode no`, as the official image does:
# otherwise Redis, having no password, refuses every client that is not on loopback, and
# the other containers are not. It runs as the redis user.
set -euo pipefail

if [ "${1:0:1}" = "-" ] || [[ "$1" == *.conf ]]; then
  set -- redis-server "$@"
fi
if [ "$1" = "redis-server" ]; then
  config=""
  if [ $# -ge 2 ] && [ -f "$2" ]; then
    config="$2"
  fi
  if [ -z "$config" ] || ! grep -q '^protected-mode' "$config"; then
    set -- "$@" --protected-mode no
  fi
  if [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
