#!/usr/bin/env bash
# The Debian package, end to end on this machine (ctest label "package"):
# builds it with cpack from this build tree, lints it, installs it with apt,
# runs darasa, its man pages, its completion and a real local lab from the
# installed paths, verifies the unit, upgrades it (the admin's edit of the
# conffile survives), purges it and checks that no file it installed is left.
#   deb_test.sh BUILD_DIR SOURCE_DIR
# Needs root (it installs a package); one run at a time per machine (a lock).
# Refuses to run when a darasa package is installed already: it would remove it.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

[ "$(id -u)" -eq 0 ] || fail "the package test installs a package: run it as root (CI does)"
for tool in cpack lintian apt-get dpkg-deb systemd-analyze man bash; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
done

exec 9>/tmp/darasa-package-test.lock
flock -w 900 9 || fail "another package test holds /tmp/darasa-package-test.lock"
if dpkg-query -W -f='${Status}' darasa 2>/dev/null | grep -q "installed"; then
  fail "a darasa package is installed on this machine; this test installs and purges its own: remove it first"
fi

work=$(mktemp -d /tmp/darasa-package-test.XXXXXX)
installed=0
lab_state=""
cleanup() {
  if [ -n "$lab_state" ] && [ -x /usr/bin/darasa ]; then
    /usr/bin/darasa --state "$lab_state" down pkgtest >/dev/null 2>&1 || true
  fi
  if [ "$installed" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=300 darasa >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" \
    >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt-get install $*"; }
}

step "build the package (cpack)"
start=$(date +%s%N)
cpack --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
echo "package built in $(( ($(date +%s%N) - start) / 1000000 )) ms"
deb=$(ls "$work"/pkg/darasa_*_amd64.deb)
version=$(dpkg-deb -f "$deb" Version)
# The "upgrade": the same files under a higher version.
version2="$version+upgrade"
cpack --config "$build/CPackConfig.cmake" -B "$work/pkg2" -D CPACK_PACKAGE_VERSION="$version2" \
  >>"$work/cpack.log" 2>&1 || { cat "$work/cpack.log" >&2; fail "cpack (upgrade version)"; }
deb2="$work/pkg2/darasa_${version2}_amd64.deb"
[ -f "$deb2" ] || fail "no $deb2"
[ "$(basename "$deb")" = "darasa_${version}_amd64.deb" ] || fail "package file name: $(basename "$deb")"

step "control fields"
depends=$(dpkg-deb -f "$deb" Depends)
for d in bubblewrap dropbear-bin libc6 libsqlite3-0 libsodium23 libyaml-cpp0.7 libical3; do
  echo "$depends" | grep -Eq "(^|, )$d( |,|$)" || fail "Depends lacks $d: $depends"
done
recommends=$(dpkg-deb -f "$deb" Recommends)
for r in podman libvirt-daemon-system lxd; do
  echo "$recommends" | grep -q "$r" || fail "Recommends lacks $r: $recommends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/darasa/darasa.yaml ||
  fail "/etc/darasa/darasa.yaml is not a conffile"

step "lintian"
lintian --fail-on error --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1 ||
  { cat "$work/lintian.log"; fail "lintian reports errors"; }
echo "lintian: $(grep -c '^E:' "$work/lintian.log" || true) errors, $(grep -c '^W:' "$work/lintian.log" || true) warnings"
grep '^[EW]:' "$work/lintian.log" || true

step "install"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' >"$work/files"
apt_install "$deb"
installed=1
[ "$(dpkg-query -W -f='${Version}' darasa)" = "$version" ] || fail "installed version"
while read -r f; do [ -e "$f" ] || fail "$f was not installed"; done <"$work/files"

step "installed paths: darasa, man, completion, unit"
cd /
/usr/bin/darasa version
/usr/bin/darasa version -o json | grep -q "\"version\": \"$version\"" || fail "darasa version -o json"
[ "$(man -w darasa)" = /usr/share/man/man1/darasa.1.gz ] || fail "man -w darasa: $(man -w darasa)"
man -w darasa-serve >/dev/null || fail "man -w darasa-serve"
systemd-analyze verify /lib/systemd/system/darasa.service || fail "systemd-analyze verify darasa.service"
out=$(bash -c 'source /usr/share/bash-completion/completions/darasa
               COMP_WORDS=(darasa sta); COMP_CWORD=1; _darasa; printf "%s\n" "${COMPREPLY[@]}"')
echo "$out" | grep -qx status || fail "installed bash completion of 'darasa sta': $out"

step "a local lab from the installed binary (its helper from /usr/libexec/darasa)"
lab_state="$work/state"
sed -e 's/name: demo$/name: pkgtest/' -e '/- {id: t0[2-5]/d' \
  "$src/examples/demo/demo.yaml" >"$work/pkgtest.yaml"
/usr/bin/darasa --state "$lab_state" -q apply "$work/pkgtest.yaml" >/dev/null
HTTP_PROXY=http://127.0.0.1:9 /usr/bin/darasa --state "$lab_state" -q up pkgtest >"$work/up.log" 2>&1 ||
  { cat "$work/up.log"; fail "darasa up from the installed binary"; }
grep -rqs '"/usr/libexec/darasa/darasa-lab"' "$lab_state"/local/labs/*/lab.json ||
  fail "the lab was not started by /usr/libexec/darasa/darasa-lab: $(grep -rho '"labBinary"[^,]*' "$lab_state"/local/labs/*/lab.json)"
/usr/bin/darasa --state "$lab_state" -q down pkgtest >/dev/null
lab_state=""

step "the packaged config starts the daemon"
sed "s|^stateDir: .*|stateDir: $work/daemon-state|" /etc/darasa/darasa.yaml >"$work/darasa.yaml"
grep -q "^stateDir: $work/daemon-state" "$work/darasa.yaml" || fail "/etc/darasa/darasa.yaml has no stateDir line"
/usr/bin/darasa serve --config "$work/darasa.yaml" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
serve=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" && break; sleep 0.1; done
grep -q "listening on http://127.0.0.1:" "$work/serve.out" || { cat "$work/serve.err"; fail "darasa serve did not start"; }
kill -TERM "$serve"
wait "$serve" || fail "darasa serve exit status $? on SIGTERM"

step "upgrade: the admin's edit of the conffile survives"
echo "# edited by the package test" >>/etc/darasa/darasa.yaml
apt_install "$deb2"
[ "$(dpkg-query -W -f='${Version}' darasa)" = "$version2" ] || fail "upgraded version"
grep -q "edited by the package test" /etc/darasa/darasa.yaml || fail "the upgrade replaced the edited conffile"
/usr/bin/darasa version >/dev/null

step "purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=300 darasa >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get purge"; }
installed=0
left=()
while read -r f; do [ -e "$f" ] && left+=("$f"); done <"$work/files"
for d in /etc/darasa /usr/libexec/darasa /usr/share/doc/darasa /usr/share/darasa \
         /etc/systemd/system/multi-user.target.wants/darasa.service; do
  [ -e "$d" ] && left+=("$d")
done
ls /var/lib/systemd/deb-systemd-helper-enabled/ 2>/dev/null | grep -q darasa && left+=("deb-systemd-helper state")
[ ${#left[@]} -eq 0 ] || fail "left behind after purge: ${left[*]}"
echo "package test passed"
