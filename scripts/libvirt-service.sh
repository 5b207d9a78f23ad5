#!/usr/bin/env bash
# Starts virtlogd and libvirtd for darasa's libvirt provider and its tests
# (qemu:///system). Idempotent: installs QEMU and libvirt only if missing,
# and does nothing more when `virsh -c qemu:///system version` answers.
#
#   scripts/libvirt-service.sh          install if needed, start, wait until ready
#   scripts/libvirt-service.sh stop     stop the daemons this script started (by PID)
#   scripts/libvirt-service.sh status   exit 0 when libvirtd answers
#
# Why each step (see /work/shared/ENGINES.md, "QEMU / libvirt"):
# - no systemd here: nothing starts the daemons or their sockets, so run
#   them as daemons by hand (virtlogd first: libvirtd hands it the guests'
#   console logs).
# - proxy variables: nothing the daemons start may reach beyond 127.0.0.1.
# - setsid: the daemons outlive this script; their PIDs are remembered so
#   `stop` ends only what this script started.
# - /dev/kvm: without udev it stays root-only (0600). libvirtd then finds its
#   cached QEMU capabilities (probed with KVM) stale on every call and probes
#   QEMU again: 5 s per call, up to 40 s per define on a loaded machine. Give
#   it group kvm, mode 0660, as Debian's udev rule does. (On darasa's test
#   machines /dev/kvm is kvm_pvm, which boots only PVM kernels: the provider
#   uses TCG there; see providers/libvirt/libvirt_provider.h, domainType.)
set -euo pipefail

URI=qemu:///system
RUN_DIR=/run/libvirt
PIDFILE_LOGD=/run/darasa-virtlogd.pid
PIDFILE_LIBVIRTD=/run/darasa-libvirtd.pid
LOG="${DARASA_LIBVIRT_LOG:-/var/log/darasa-libvirtd.log}"

answers() {
  command -v virsh >/dev/null || return 1
  timeout 10 virsh -c "$URI" version >/dev/null 2>&1
}

stop_pidfile() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$file"
}

fix_kvm_device() {
  [ -c /dev/kvm ] || return 0
  getent group kvm >/dev/null || return 0
  if [ "$(stat -c %a /dev/kvm)" = 600 ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
}

case "${1:-start}" in
  stop) stop_pidfile "$PIDFILE_LIBVIRTD"; stop_pidfile "$PIDFILE_LOGD"; exit 0 ;;
  status) answers; exit $? ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -eq 0 ]; then fix_kvm_device; fi
if answers; then
  echo "libvirtd already answers on $URI"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "libvirt-service.sh: must run as root (it installs packages and serves $URI)" >&2
  exit 1
fi

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}
want=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  apt_install --no-install-recommends "${missing[@]}"
fi
fix_kvm_device  # the group kvm exists once the packages are in

proxy_env=(HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
           http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy=127.0.0.1,localhost)

# Daemons of ours that no longer answer: start over.
stop_pidfile "$PIDFILE_LIBVIRTD"
stop_pidfile "$PIDFILE_LOGD"
mkdir -p "$RUN_DIR" "$(dirname "$LOG")"

# Without --daemon they stay in the foreground: setsid + & keeps the PID we
# remember the daemon's own.
if ! pgrep -x virtlogd >/dev/null; then
  setsid env "${proxy_env[@]}" virtlogd </dev/null >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE_LOGD"
fi
setsid env "${proxy_env[@]}" libvirtd </dev/null >>"$LOG" 2>&1 &
echo $! >"$PIDFILE_LIBVIRTD"

for _ in $(seq 300); do
  if answers; then
    echo "libvirtd answers on $URI (pid $(cat "$PIDFILE_LIBVIRTD"), log $LOG)"
    exit 0
  fi
  if ! kill -0 "$(cat "$PIDFILE_LIBVIRTD")" 2>/dev/null; then
    echo "libvirtd exited; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done
echo "libvirtd did not answer on $URI within 30 s (log: $LOG)" >&2
exit 1
