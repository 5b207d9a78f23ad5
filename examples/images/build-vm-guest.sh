#!/usr/bin/env bash
# Builds darasa's minimal bootable VM guest for the libvirt provider from
# Debian packages, without touching the host's /boot:
#
#   <images>/busybox-vm/vmlinuz      the kernel of linux-image-*-cloud-amd64
#                                    (apt-get download + dpkg -x, nothing installed)
#   <images>/busybox-vm/initrd.img   busybox-static + dropbear (with the shared
#                                    libraries ldd names) + the virtio/evdev
#                                    modules + vm-guest/init as /init
#   <images>/busybox-vm/cmdline      the kernel command line the provider uses
#   <images>/busybox-vm/ready-marker the serial console line that says "ready"
#   <images>/busybox-vm/inputs.hash  hash of everything above's inputs
#
# <images> is $DARASA_VM_IMAGES, default /var/lib/darasa/images (the libvirt
# provider's default image directory). A template names it `image: busybox-vm`.
#
# Usage: examples/images/build-vm-guest.sh [--force] [DIR]
# Idempotent: nothing is rebuilt when inputs.hash matches (about 0.1 s); the
# kernel package is kept in $DARASA_VM_CACHE (default /var/cache/darasa/vm-guest)
# so a rebuild does not download it again. Needs root to install missing
# packages (busybox-static, dropbear-bin, cpio) and for apt-get download.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
images="${DARASA_VM_IMAGES:-/var/lib/darasa/images}"
out="${1:-$images/busybox-vm}"
cache="${DARASA_VM_CACHE:-/var/cache/darasa/vm-guest}"

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null ||
    { apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}
missing=()
for p in busybox-static dropbear-bin cpio; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  apt_install "${missing[@]}"
fi

busybox=/bin/busybox
dropbear=/usr/sbin/dropbear
dropbearkey=/usr/bin/dropbearkey
if ldd "$busybox" >/dev/null 2>&1; then
  echo "$busybox is not statically linked: apt-get install busybox-static" >&2
  exit 1
fi

# The cloud kernel: the package linux-image-cloud-amd64 depends on.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
if [ -z "$kpkg" ]; then
  apt-get update -q >/dev/null
  kpkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
fi
if [ -z "$kpkg" ]; then
  echo "cannot find the cloud kernel package (apt-cache depends linux-image-cloud-amd64)" >&2
  exit 1
fi
mkdir -p "$cache"
deb=$(ls "$cache/${kpkg}"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  echo "downloading $kpkg..."
  # apt's sandbox user cannot write every directory: download in a temp dir of its own.
  dl=$(mktemp -d)
  chmod 0777 "$dl"
  (cd "$dl" && apt-get download -q "$kpkg" >/dev/null 2>&1) ||
    { apt-get update -q >/dev/null && (cd "$dl" && apt-get download -q "$kpkg" >/dev/null); }
  mv "$dl"/*.deb "$cache/"
  rmdir "$dl"
  deb=$(ls "$cache/${kpkg}"_*.deb | head -n1)
fi

libs=$(ldd "$dropbear" "$dropbearkey" | awk '/=>/ { print $3 } /ld-linux/ && !/=>/ { print $1 }' | sort -u)
# shellcheck disable=SC2086
inputs_hash=$(cat "$0" "$here/vm-guest/init" "$here/vm-guest/poweroff" "$here/vm-guest/modules" "$deb" "$busybox" "$dropbear" "$dropbearkey" $libs |
  sha256sum | cut -c1-16)
if [ "$force" = 0 ] && [ "$(cat "$out/inputs.hash" 2>/dev/null || true)" = "$inputs_hash" ] &&
   [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
  echo "$out is up to date (inputs $inputs_hash)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg -x "$deb" "$work/kernel"
kver=${kpkg#linux-image-}
kmods="$work/kernel/lib/modules/$kver/kernel"

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/dropbear,etc/acpi/PWRF,dev,proc,sys,root,home,run,tmp,var/log,www,lib/modules}
cp "$busybox" "$root/bin/busybox"
for app in $("$busybox" --list-full); do
  [ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"
done
cp "$dropbear" "$root/usr/sbin/dropbear"
cp "$dropbearkey" "$root/usr/bin/dropbearkey"
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# Only the modules the init loads (vm-guest/modules), flat: it insmods by path.
for m in $(grep -v '^#' "$here/vm-guest/modules"); do
  f=$(find "$kmods" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n1)
  if [ -z "$f" ]; then echo "module $m not found in $kpkg" >&2; exit 1; fi
  case $f in
    *.ko) cp "$f" "$root/lib/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
  esac
done
grep -v '^#' "$here/vm-guest/modules" >"$root/lib/modules/load-order"
install -m 0755 "$here/vm-guest/init" "$root/init"
install -m 0755 "$here/vm-guest/poweroff" "$root/etc/acpi/PWRF/00000080"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
chmod 0600 "$root/etc/shadow"
printf '/bin/sh\n/bin/ash\n' >"$root/etc/shells"
echo '<h1>darasa VM lab</h1>' >"$root/www/index.html"

mkdir -p "$out"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$work/initrd.img"
install -m 0644 "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
install -m 0644 "$work/initrd.img" "$out/initrd.img"
# No panic=-1: a guest whose /init dies stays halted with "Kernel panic" on
# its console, which the provider's probe reports as a failure (a reset would
# loop, the domain restarts on reboot). no_timer_check: under TCG on a busy
# host the emulated CPU can be starved while the kernel checks the IO-APIC
# timer, and it panics ("IO-APIC + timer doesn't work!"; seen with 3 VMs at
# cpus 0.5 on a loaded 2-core machine).
echo "console=ttyS0 quiet loglevel=3 no_timer_check" >"$out/cmdline"
echo "darasa-guest: ready" >"$out/ready-marker"
echo "$inputs_hash" >"$out/inputs.hash"
chmod 0755 "$out"
echo "built $out ($kpkg, initrd $(du -k "$out/initrd.img" | cut -f1) KiB, inputs $inputs_hash)"
