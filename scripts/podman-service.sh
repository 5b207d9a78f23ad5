#!/usr/bin/env bash
# Starts Podman's Docker-compatible API service on unix:///run/podman/podman.sock
# for darasa's docker provider and its tests. Idempotent: installs podman and
# runc only if missing, rewrites only its own containers.conf, and does nothing
# more when the socket already answers /v1.41/_ping.
#
#   scripts/podman-service.sh          install if needed, start, wait until ready
#   scripts/podman-service.sh stop     stop the service this script started (by PID)
#   scripts/podman-service.sh status   exit 0 when the API answers
#
# Why each step (see /work/shared/ENGINES.md, "Podman 4.3"):
# - runc, not crun: crun fails with this machine's hybrid cgroup v1 layout.
# - default_ulimits: runc fails when a container asks for more than the hard
#   rlimits (CAP_SYS_RESOURCE is missing here), and Podman's defaults do.
# - proxy variables: the engine must never reach out to a registry; every
#   image is built locally (examples/images/).
# - setsid, no private mount namespace: the service outlives this script, and
#   a private mount namespace breaks listing of other containers.
set -euo pipefail

SOCK_DIR=/run/podman
SOCK="$SOCK_DIR/podman.sock"
PIDFILE="$SOCK_DIR/darasa-service.pid"
LOG="${DARASA_PODMAN_LOG:-/var/log/darasa-podman-service.log}"
CONF=/etc/containers/containers.conf
MARK="# written by darasa scripts/podman-service.sh"

ping_ok() {
  [ -S "$SOCK" ] || return 1
  local out
  out=$(curl -s --max-time 3 --noproxy '*' --unix-socket "$SOCK" http://d/v1.41/_ping 2>/dev/null) || return 1
  [ "$out" = "OK" ]
}

stop_service() {
  if [ -f "$PIDFILE" ]; then
    local pid
    pid=$(cat "$PIDFILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$PIDFILE"
  fi
}

case "${1:-start}" in
  stop) stop_service; exit 0 ;;
  status) ping_ok; exit $? ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

if ping_ok; then
  echo "podman API already answers on unix://$SOCK"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "podman-service.sh: must run as root (it installs packages and serves $SOCK)" >&2
  exit 1
fi

apt_install() {
  # A fresh machine may have no package lists yet: update once and retry.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}
# podman and runc, and the pieces Podman only recommends but darasa relies
# on: netavark + aardvark-dns (the network backend the provider was tested
# with: per-lab bridges, "isolate", ports on 127.0.0.1) and catatonit (the
# provider's init=true option).
want=(podman runc netavark aardvark-dns catatonit)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  apt_install --no-install-recommends "${missing[@]}"
fi
command -v curl >/dev/null || apt_install curl

# Our containers.conf, unless an administrator wrote one: then ours goes
# beside it and only the service uses it (CONTAINERS_CONF).
WANT="$MARK
[containers]
default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]
[engine]
runtime = \"runc\"
[network]
network_backend = \"netavark\"
# Subnets Podman picks for new networks (darasa names its own explicitly).
default_subnet_pools = [{\"base\" = \"10.89.0.0/16\", \"size\" = 24}]"
mkdir -p /etc/containers
export_conf=()
if [ ! -e "$CONF" ] || head -n1 "$CONF" | grep -qxF "$MARK"; then
  if [ "$(cat "$CONF" 2>/dev/null)" != "$WANT" ]; then printf '%s\n' "$WANT" >"$CONF"; fi
else
  printf '%s\n' "$WANT" >/etc/containers/darasa-containers.conf
  export_conf=(CONTAINERS_CONF=/etc/containers/darasa-containers.conf)
  echo "note: $CONF was not written by darasa; the service uses /etc/containers/darasa-containers.conf"
fi

# A service of ours that no longer answers, or a stale socket file: start over.
stop_service
mkdir -p "$SOCK_DIR"
rm -f "$SOCK"

setsid env "${export_conf[@]}" \
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost \
  http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy=127.0.0.1,localhost \
  podman system service --time=0 "unix://$SOCK" </dev/null >>"$LOG" 2>&1 &
echo $! >"$PIDFILE"

for _ in $(seq 300); do
  if ping_ok; then
    echo "podman API answers on unix://$SOCK (pid $(cat "$PIDFILE"), log $LOG)"
    exit 0
  fi
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "podman system service exited; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done
echo "podman API did not answer on unix://$SOCK within 30 s (log: $LOG)" >&2
exit 1
