#!/usr/bin/env bash
# A real, throwaway PostgreSQL server on 127.0.0.1 for tests and a laptop: the Debian PostgreSQL 15
# binaries, a fresh cluster (initdb) in a directory of the caller's choosing, a free loopback port.
#
#   scripts/postgres.sh prepare      make sure the server binaries exist (apt-get when missing, as root)
#   scripts/postgres.sh start DIR    initdb DIR (first run only), start, wait until ready, create
#                                    database `sluice`; the last line on stdout is the connection URL
#   scripts/postgres.sh stop DIR     stop (fast: disconnects clients, clean shutdown), remove DIR
#   scripts/postgres.sh restart DIR  stop (fast) and start again on the same port and data
#   scripts/postgres.sh kill DIR     stop immediately (no shutdown checkpoint, like a crash); DIR stays,
#                                    so restart or start brings the same data back through crash recovery
#
# Environment (all optional):
#   SLUICE_PG_WATCH_PID      stop the server and remove DIR when this process exits (tests pass their pid)
#   SLUICE_PG_PORT           listen on this port instead of a free one picked at random
#   SLUICE_PG_BIN            directory holding initdb and pg_ctl (default: /usr/lib/postgresql/15/bin,
#                            else the newest /usr/lib/postgresql/*/bin, else PATH)
#   SLUICE_PG_OS_USER        as root, the user that runs the server (default: postgres, else sluice-pg)
#   SLUICE_PG_START_TIMEOUT  seconds to wait for the server to accept connections (default 60)
#
# The server listens on 127.0.0.1 only (unix sockets in DIR), trusts every local connection
# (no password) and is tuned for tests (fsync off), so it is for tests and development only.
# PostgreSQL refuses to run as root: as root, the server runs as SLUICE_PG_OS_USER, which owns DIR.
# start on a running server and stop on a stopped (or removed) one do nothing.
set -euo pipefail
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
DB_USER=sluice
DB_NAME=sluice
# Marks a directory this script made, so stop's `rm -rf` and start's chown never touch another one.
MARKER=.sluice-postgres
TIMEOUT="${SLUICE_PG_START_TIMEOUT:-60}"

say() { echo "postgres: $*" >&2; }
die() { say "$*"; exit 1; }

find_bin() {
  local d
  if [ -n "${SLUICE_PG_BIN:-}" ]; then
    [ -x "$SLUICE_PG_BIN/initdb" ] && [ -x "$SLUICE_PG_BIN/pg_ctl" ] && echo "$SLUICE_PG_BIN" && return 0
    return 1
  fi
  for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then dirname "$(command -v pg_ctl)"; return 0; fi
  return 1
}

prepare() {
  local bin
  if ! bin="$(find_bin)"; then
    # An explicit SLUICE_PG_BIN that is wrong is a mistake to report, not a reason to install packages.
    [ -z "${SLUICE_PG_BIN:-}" ] || die "SLUICE_PG_BIN=$SLUICE_PG_BIN holds no initdb and pg_ctl"
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
      die "no PostgreSQL server binaries (initdb, pg_ctl); install PostgreSQL 15 (Debian: postgresql-15)"
    say "installing the PostgreSQL 15 server with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin="$(find_bin)" || die "apt-get installed PostgreSQL but initdb and pg_ctl are still missing"
  fi
  [ "$(id -u)" = 0 ] && say "the server will run as $(os_user)"
  say "$("$bin/pg_ctl" --version) in $bin"
}

# As root, the OS user that owns and runs the cluster (created on first use); empty otherwise.
os_user() {
  [ "$(id -u)" = 0 ] || return 0
  local u="${SLUICE_PG_OS_USER:-}"
  if [ -z "$u" ]; then
    if id -u postgres >/dev/null 2>&1; then u=postgres; else u=sluice-pg; fi
  fi
  if ! id -u "$u" >/dev/null 2>&1; then
    # Another test file may create it at the same moment: only a user still missing afterwards is an error.
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" \
      >/dev/null 2>&1 || id -u "$u" >/dev/null 2>&1 || die "could not create the system user $u"
  fi
  echo "$u"
}

# Runs a server command as the cluster's owner; from / so a cwd it cannot read draws no warning.
as_owner() {
  if [ -n "$OWNER" ]; then (cd / && runuser -u "$OWNER" -- "$@"); else "$@"; fi
}

setup_dir() {
  [ $# -ge 1 ] && [ -n "$1" ] || die "usage: $0 ${CMD} DIR"
  DIR="$(realpath -m "$1")"
  DATA="$DIR/data"
  LOG="$DIR/server.log"
  BIN="$(find_bin)" || die "no PostgreSQL server binaries; run: bash scripts/postgres.sh prepare"
}

owned() { [ -f "$DIR/$MARKER" ]; }

running() { [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

port() { sed -n 's/^port = \([0-9]*\)$/\1/p' "$DATA/sluice.conf"; }

url() { echo "postgres://$DB_USER@127.0.0.1:$(port)/$DB_NAME"; }

# A port in 20000-32767: below Linux's ephemeral range, so outgoing connections do not take it meanwhile.
pick_port() {
  if [ -n "${SLUICE_PG_PORT:-}" ]; then echo "$SLUICE_PG_PORT"; return; fi
  local p
  while :; do
    p=$((20000 + RANDOM % 12768))
    # A refused connection means nothing listens there now; start retries should someone bind it first.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

write_conf() {
  cat >"$DATA/sluice.conf" <<EOF
# Written by scripts/postgres.sh; included from postgresql.conf.
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$DIR'
# Tests only: without fsync a crashed *server* loses nothing (the OS has every write), a crashed OS would.
fsync = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
EOF
}

init_cluster() {
  if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR is not empty and was not made by this script; give start a new or empty directory"
  fi
  mkdir -p "$DIR"
  touch "$DIR/$MARKER"
  if [ -n "$OWNER" ]; then
    chown -R "$OWNER:" "$DIR"
    as_owner test -w "$DIR" || die "$OWNER cannot write $DIR (a parent directory is closed to it); use one under /tmp"
  fi
  say "initdb $DATA"
  # Trust, but only on the unix socket (in DIR) and 127.0.0.1: pg_hba.conf is rewritten below.
  as_owner "$BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust --no-locale -E UTF8 --no-sync \
    >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$DATA/pg_hba.conf"
  echo "include 'sluice.conf'" >>"$DATA/postgresql.conf"
  write_conf 0
  [ -z "$OWNER" ] || chown "$OWNER:" "$DATA/pg_hba.conf" "$DATA/sluice.conf"
}

# pg_ctl -w waits for the postmaster's own "ready" state; pg_isready then confirms TCP answers.
pg_start() {
  as_owner "$BIN/pg_ctl" start -s -w -t "$TIMEOUT" -D "$DATA" -l "$LOG" >&2
}

wait_ready() {
  local deadline=$((SECONDS + TIMEOUT))
  until "$BIN/pg_isready" -q -h 127.0.0.1 -p "$(port)" -U "$DB_USER" -d postgres; do
    [ "$SECONDS" -lt "$deadline" ] || { tail -n 20 "$LOG" >&2; die "server not ready in ${TIMEOUT}s"; }
    sleep 0.1
  done
}

start_watchdog() {
  local watch="${SLUICE_PG_WATCH_PID:-}"
  [ -n "$watch" ] || return 0
  if [ -f "$DIR/watchdog.pid" ] && kill -0 "$(cat "$DIR/watchdog.pid")" 2>/dev/null; then return 0; fi
  # So that a test process killed before its teardown leaves no server behind: once it is gone, stop
  # the server and remove DIR. It ends by itself when stop removed DIR first.
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -f "$2/'"$MARKER"'" ]; do sleep 1; done
    [ -f "$2/'"$MARKER"'" ] && bash "$3" stop "$2"' watchdog "$watch" "$DIR" "$SCRIPT" \
    >/dev/null 2>&1 </dev/null &
  echo $! >"$DIR/watchdog.pid"
}

start() {
  local fresh=0 attempt
  if owned && [ -d "$DATA" ]; then
    if running; then say "already running on 127.0.0.1:$(port)"; start_watchdog; url; return 0; fi
  else
    init_cluster
    fresh=1
  fi
  start_watchdog
  for attempt in 1 2 3 4 5; do
    # A fresh cluster gets a new port; a restarted one keeps its port, so its URL stays valid.
    [ "$fresh" = 0 ] || write_conf "$(pick_port)"
    : >"$LOG"
    [ -z "$OWNER" ] || chown "$OWNER:" "$LOG"
    if pg_start; then break; fi
    if [ "$fresh" = 1 ] && [ -z "${SLUICE_PG_PORT:-}" ] && grep -q 'could not bind' "$LOG"; then
      say "port $(port) was taken meanwhile (attempt $attempt); trying another"
      continue
    fi
    tail -n 20 "$LOG" >&2
    die "the server did not start"
  done
  running || die "no free port after 5 attempts"
  wait_ready
  if [ "$fresh" = 1 ]; then "$BIN/createdb" -h 127.0.0.1 -p "$(port)" -U "$DB_USER" "$DB_NAME" >&2; fi
  url >"$DIR/url"
  say "$("$BIN/postgres" --version) running on 127.0.0.1:$(port), data in $DATA"
  url
}

stop() {
  if ! [ -e "$DIR" ]; then say "$DIR is gone: nothing to stop"; return 0; fi
  owned || die "$DIR was not made by this script; not touching it"
  if running; then as_owner "$BIN/pg_ctl" stop -s -w -t "$TIMEOUT" -m fast -D "$DATA" >&2; fi
  rm -rf "$DIR"
  say "stopped; removed $DIR"
}

restart() {
  owned && [ -d "$DATA" ] || die "$DIR holds no cluster made by this script; use start"
  # pg_ctl restart starts a stopped (killed) server too; its output is noise when it is not running.
  as_owner "$BIN/pg_ctl" restart -s -w -t "$TIMEOUT" -m fast -D "$DATA" -l "$LOG" >&2 2>/dev/null ||
    { tail -n 20 "$LOG" >&2; die "the server did not restart"; }
  wait_ready
  say "restarted on 127.0.0.1:$(port)"
}

kill_server() {
  owned && [ -d "$DATA" ] || die "$DIR holds no cluster made by this script"
  if running; then as_owner "$BIN/pg_ctl" stop -s -w -t "$TIMEOUT" -m immediate -D "$DATA" >&2; fi
  say "killed (data kept in $DATA)"
}

CMD="${1:-}"
case "$CMD" in
  prepare) OWNER="$(os_user)"; prepare ;;
  start | stop | restart | kill)
    shift
    OWNER="$(os_user)"
    setup_dir "$@"
    case "$CMD" in start) start ;; stop) stop ;; restart) restart ;; kill) kill_server ;; esac
    ;;
  *) echo "usage: $0 prepare | start DIR | stop DIR | restart DIR | kill DIR" >&2; exit 2 ;;
esac
