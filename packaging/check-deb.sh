#!/usr/bin/env bash
# packaging/check-deb.sh BUILD_DIR "DEP, DEP, ..." — builds the .deb with CPack from BUILD_DIR and
# checks its files (dpkg-deb -c), its control fields and dependencies (dpkg-deb -f), the units it
# ships (ExecStart at /usr/bin) and that its postinst enables the socket; then installs it with apt
# into a fresh Debian 12 root (tools/check-fresh --deb).
set -euo pipefail
build=$1 deps=$2
work=$(mktemp -d /tmp/sc-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; exit 1; }
deb=$(ls "$work"/*.deb)
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/files"
for file in ./usr/bin/systemcontroller ./usr/bin/townctl ./usr/share/bash-completion/completions/townctl \
  ./usr/lib/systemd/system/town-os-systemcontroller.service ./usr/lib/systemd/system/town-os-systemcontroller.socket; do
  grep -qx "$file" "$work/files" || { echo "missing $file in the package" >&2; cat "$work/files" >&2; exit 1; }
done
if grep -E '\.(a|hpp|h)$' "$work/files" >&2; then echo "build artefacts in the package" >&2; exit 1; fi
[[ $(dpkg-deb -f "$deb" Package) == town-os-systemcontroller ]]
depends=$(dpkg-deb -f "$deb" Depends)
IFS=',' read -ra wanted <<<"$deps"
for dep in "${wanted[@]}" libc6; do
  dep=${dep// /}
  grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || { echo "Depends lacks $dep: $depends" >&2; exit 1; }
done
dpkg-deb -x "$deb" "$work/root"
grep -qx 'ExecStart=/usr/bin/systemcontroller' "$work/root/usr/lib/systemd/system/town-os-systemcontroller.service"
grep -qx 'ListenStream=/run/town-os/systemcontroller.sock' "$work/root/usr/lib/systemd/system/town-os-systemcontroller.socket"
dpkg-deb -e "$deb" "$work/control"
grep -q 'deb-systemd-helper enable town-os-systemcontroller.socket' "$work/control/postinst"
[[ $(stat -c %a "$work/control/postinst") == 755 ]]
grep -q '^complete -o filenames -F _townctl townctl' "$work/root/usr/share/bash-completion/completions/townctl"
echo "Depends: $depends"
echo "package checked"
# Installed with apt into a fresh Debian 12 (tools/check-fresh --deb): the files, the dependencies
# (the binaries start with what apt brought) and the units (systemd-analyze verify; the socket
# enabled by the postinst).
"$(dirname "$0")/../tools/check-fresh" --deb "$deb"
