#!/usr/bin/env bash
# packaging/check-units.sh UNIT_DIR BINARY — `systemd-analyze verify` accepts the controller's
# units (the copies configured with ExecStart at BINARY). Fails on any warning it prints.
set -euo pipefail
unit_dir=$1 binary=$2
[[ -x $binary ]] || { echo "no binary at $binary" >&2; exit 1; }
grep -q "^ExecStart=$binary\$" "$unit_dir/town-os-systemcontroller.service"
out=$(systemd-analyze verify --man=no "$unit_dir/town-os-systemcontroller.socket" \
  "$unit_dir/town-os-systemcontroller.service" 2>&1) || { echo "$out" >&2; exit 1; }
# Warnings about the units themselves (not the host's own units, which verify also loads).
if grep -E 'town-os-systemcontroller' <<<"$out" >&2; then exit 1; fi
for directive in Type=notify WatchdogSec= NotifyAccess=main NoNewPrivileges=yes ProtectSystem=true; do
  grep -q "^$directive" "$unit_dir/town-os-systemcontroller.service" || { echo "missing $directive" >&2; exit 1; }
done
echo "units verified"
