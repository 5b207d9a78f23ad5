#!/usr/bin/env bash
# Installs the Debian packages darasa builds and tests with (DESIGN.md, "Dependencies").
# Safe to run twice: it only calls apt-get when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libcurl4-openssl-dev nlohmann-json3-dev
  libboost1.81-dev libboost-filesystem1.81-dev
  libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev sqlite3 libyaml-cpp-dev libcpp-httplib-dev
  libhowardhinnant-date-dev tzdata libical-dev
  libsodium-dev libssl-dev
  # the local provider's sandbox and the demo lab's SSH server
  bubblewrap dropbear-bin openssh-client procps iproute2 busybox-static
  # the docker provider's engine in tests: Podman with runc (see ../shared/ENGINES.md)
  podman runc curl netavark aardvark-dns catatonit
  # the libvirt provider: QEMU + libvirt (VMs under TCG where there is no
  # KVM), qemu-img for overlays, genisoimage for NoCloud seeds, cpio for the
  # example guest's initramfs (see ../shared/ENGINES.md)
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients libvirt-dev genisoimage cpio
  # the Debian package and its test (tests/package): cpack's dpkg-shlibdeps
  # needs file; lintian, man pages (man-db), the unit check (systemd's
  # systemd-analyze), and the shells whose completion scripts are tested
  dpkg-dev file lintian man-db systemd zsh
  # the fuzz targets (scripts/fuzz.sh): clang with libFuzzer and its sanitizer runtimes
  clang-15 libfuzzer-15-dev
  # PostgreSQL state (issue 20): libpq to build; the server for the tests'
  # throwaway clusters (scripts/postgres-service.sh; its default cluster is
  # left alone)
  libpq-dev postgresql-15
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
