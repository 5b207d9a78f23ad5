#!/usr/bin/env bash
# Builds darasa's example lab image from Debian packages (no registry needed)
# and imports it into Podman (and Docker, when a Docker daemon answers):
#
#   localhost/darasa/busybox-lab:1
#     busybox-static (a shell and the usual tools, httpd, nc) + dropbear (SSH
#     server, with the shared libraries it needs) + darasa-lab-init (PID 1: makes
#     the trainee account from the credentials darasa injects, then runs SSH).
#
# Usage: examples/images/build-busybox-lab.sh [--force] [IMAGE]
# Idempotent and fast: the image carries a label with the hash of its inputs,
# and nothing is rebuilt when an image with the same hash exists.
# Needs root only to install busybox-static/dropbear-bin when they are missing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
image="${1:-${DARASA_LAB_IMAGE:-localhost/darasa/busybox-lab:1}}"

busybox=/bin/busybox
dropbear=/usr/sbin/dropbear
if [ ! -x "$busybox" ] || [ ! -x "$dropbear" ]; then
  echo "installing busybox-static and dropbear-bin..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends busybox-static dropbear-bin >/dev/null ||
    { apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends busybox-static dropbear-bin >/dev/null; }
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "$busybox is not statically linked: apt-get install busybox-static" >&2
  exit 1
fi

engines=()
command -v podman >/dev/null && engines+=(podman)
if command -v docker >/dev/null && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  engines+=(docker)
fi
if [ ${#engines[@]} -eq 0 ]; then
  echo "neither podman nor a running docker daemon found: run scripts/podman-service.sh first" >&2
  exit 1
fi

# The hash of everything that goes into the image.
libs=$(ldd "$dropbear" | awk '/=>/ { print $3 } /ld-linux/ && !/=>/ { print $1 }')
inputs_hash=$(cat "$0" "$here/darasa-lab-init" "$busybox" "$dropbear" $libs | sha256sum | cut -c1-16)

need=()
for engine in "${engines[@]}"; do
  have=$("$engine" image inspect --format '{{index .Config.Labels "darasa.image-hash"}}' "$image" 2>/dev/null || true)
  if [ "$force" = 1 ] || [ "$have" != "$inputs_hash" ]; then need+=("$engine"); fi
done
if [ ${#need[@]} -eq 0 ]; then
  echo "$image is up to date (${engines[*]})"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/dropbear,etc/darasa,dev,proc,sys,root,home,run,var/log,www}
install -d -m 1777 "$root/tmp"

cp "$busybox" "$root/bin/busybox"
for app in $("$busybox" --list-full); do
  [ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"
done

# dropbear and exactly the shared libraries it loads, at the paths ldd names.
cp "$dropbear" "$root/usr/sbin/dropbear"
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
install -m 0755 "$here/darasa-lab-init" "$root/sbin/darasa-lab-init"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
chmod 0600 "$root/etc/shadow"
printf '/bin/sh\n/bin/ash\n' >"$root/etc/shells"
echo '<h1>darasa busybox lab</h1>' >"$root/www/index.html"

tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$work/rootfs.tar" .

for engine in "${need[@]}"; do
  old=$("$engine" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  quiet=()
  [ "$engine" = podman ] && quiet=(--quiet)
  "$engine" import "${quiet[@]}" \
    --change 'CMD ["/sbin/darasa-lab-init"]' \
    --change 'EXPOSE 22' \
    --change 'WORKDIR /' \
    --change "LABEL darasa.image-hash=$inputs_hash" \
    --change 'LABEL org.opencontainers.image.description="darasa busybox+dropbear lab"' \
    "$work/rootfs.tar" "$image" >/dev/null
  # The previous build, now untagged (kept if a container still uses it).
  [ -z "$old" ] || "$engine" rmi "$old" >/dev/null 2>&1 || true
  echo "built $image ($engine, inputs $inputs_hash)"
done
