#!/bin/bash
# package_deb_test: builds the .deb from a finished build dir, checks what it holds
# (files, modes, conffiles, maintainer scripts, the unit's hardening, Depends against
# the libraries the binaries load), unpacks it and runs the packaged binaries:
# --version, --check-config on the shipped config, a daemon started with it on a
# scratch data dir, one authenticated admin call, a refused bad token, and a clean
# stop on SIGTERM.
# Usage: deb_test.sh BUILD_DIR   (needs cpack, dpkg-deb; no root, no network)
set -euo pipefail

build=${1:?usage: deb_test.sh BUILD_DIR}
tmp=$(mktemp -d)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# Stops the test at once: what follows depends on this step.
fatal() {
  echo "FAIL: $*" >&2
  echo "package_deb_test: stopped after $((failures + 1)) failure(s)" >&2
  exit 1
}

# --- Build the package --------------------------------------------------------
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  fatal "cpack -G DEB"
fi
debs=("$tmp"/out/*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fatal "expected one .deb in $tmp/out: ${debs[*]}"
deb=${debs[0]}
echo "built $(basename "$deb")"

# --- Control data ---------------------------------------------------------------
dpkg-deb --info "$deb" >"$tmp/info" || fatal "dpkg-deb --info"
[[ $(dpkg-deb --field "$deb" Package) == leadvault ]] || fail "Package is not leadvault"
[[ $(dpkg-deb --field "$deb" Section) == admin ]] || fail "Section is not admin"
version=$(dpkg-deb --field "$deb" Version)
depends=$(dpkg-deb --field "$deb" Depends)
[[ ", $depends," == *", adduser,"* ]] || fail "Depends lacks adduser: $depends"

dpkg-deb --control "$deb" "$tmp/control"
[[ $(cat "$tmp/control/conffiles") == /etc/leadvault/leadvault.toml ]] ||
  fail "conffiles is not exactly /etc/leadvault/leadvault.toml: $(cat "$tmp/control/conffiles")"
for script in postinst prerm postrm; do
  f=$tmp/control/$script
  if [[ ! -f $f ]]; then
    fail "no $script in the package"
    continue
  fi
  [[ $(stat -c %a "$f") == 755 ]] || fail "$script has mode $(stat -c %a "$f"), not 755"
  sh -n "$f" || fail "$script does not parse (sh -n)"
  grep -qx 'set -e' "$f" || fail "$script lacks set -e"
  [[ $(head -n1 "$f") == '#!/bin/sh' ]] || fail "$script is not a /bin/sh script"
done
grep -v '^[[:space:]]*\(#\|echo\)' "$tmp/control/postinst" |
  grep -Eq 'systemctl[^;|&]* (enable|start|restart|try-restart|reload-or-restart)|deb-systemd-invoke' &&
  fail "postinst enables or starts the service: the operator does, after the admin-token steps"

# --- Files ----------------------------------------------------------------------
dpkg-deb --contents "$deb" >"$tmp/contents"
# MODE PATH for every file the package must hold; owners are all root.
while read -r mode path; do
  line=$(awk -v p="./$path" '$6 == p' "$tmp/contents")
  if [[ -z $line ]]; then
    fail "the package lacks /$path"
  elif [[ $line != "$mode root/root "* ]]; then
    fail "/$path: want $mode root/root, got: $line"
  fi
done <<'EOF'
-rwxr-xr-x usr/bin/leadvaultd
-rwxr-xr-x usr/bin/leadvaultctl
-rw-r--r-- usr/lib/systemd/system/leadvaultd.service
-rw-r--r-- etc/leadvault/leadvault.toml
-rw-r--r-- usr/share/doc/leadvault/README.md
-rw-r--r-- usr/share/doc/leadvault/SECURITY.md
EOF
grep -q 'leadvault-bench' "$tmp/contents" && fail "leadvault-bench is packaged (a dev tool)"

dpkg-deb --extract "$deb" "$tmp/root"
bin=$tmp/root/usr/bin
unit=$tmp/root/usr/lib/systemd/system/leadvaultd.service
cmp -s "$tmp/root/etc/leadvault/leadvault.toml" "$(dirname "$0")/leadvault.toml" ||
  fail "the packaged config differs from packaging/leadvault.toml"

# --- The unit ---------------------------------------------------------------------
while read -r want; do
  grep -qxF -- "$want" "$unit" || fail "the unit lacks the line: $want"
done <<'EOF'
Type=notify
NotifyAccess=main
WatchdogSec=30s
User=leadvault
Group=leadvault
ExecStart=/usr/bin/leadvaultd --config /etc/leadvault/leadvault.toml
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
TimeoutStopSec=30s
StateDirectory=leadvault
StateDirectoryMode=0700
UMask=0077
ProtectSystem=strict
ReadWritePaths=/var/lib/leadvault
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
RestrictSUIDSGID=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
LimitCORE=0
SystemCallArchitectures=native
SystemCallFilter=@system-service
EOF
# The daemon sets RLIMIT_CORE itself: a filter that denies @resources must allow
# setrlimit again on a later line.
awk '/^SystemCallFilter=~.*@resources/ { denied = 1 }
     /^SystemCallFilter=[^~]/ && /setrlimit/ { denied = 0 }
     END { exit denied }' "$unit" ||
  fail "the unit's SystemCallFilter= denies @resources without allowing setrlimit again"
if command -v systemd-analyze >/dev/null; then
  # A copy whose ExecStart= names the unpacked binary, so verify finds it on this host.
  sed "s|^ExecStart=/usr/bin/leadvaultd |ExecStart=$bin/leadvaultd |" "$unit" >"$tmp/leadvaultd.service"
  systemd-analyze verify --man=no "$tmp/leadvaultd.service" >"$tmp/verify" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$tmp/verify")"
else
  echo "systemd-analyze not installed: unit not verified"
fi

# --- Depends covers every shared library the binaries load ------------------------
# The Debian package that ships a library path ldd printed (merged /usr: try both).
owner_of() {
  local p
  for p in "$1" "$(readlink -f "$1")" "/usr$1" "${1#/usr}"; do
    dpkg-query --search "$p" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  done
  return 1
}
for exe in "$bin/leadvaultd" "$bin/leadvaultctl"; do
  needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [[ -n $needed ]] || fail "readelf found no NEEDED entry in $exe"
  while read -r soname; do
    path=$(ldd "$exe" | awk -v s="$soname" '$1 == s && $2 == "=>" { print $3 }')
    if [[ -z $path || $path == not ]]; then
      fail "$(basename "$exe") needs $soname, which is not installed here"
    elif ! owner=$(owner_of "$path") || [[ -z $owner ]]; then
      fail "$(basename "$exe") needs $soname ($path), which no Debian package ships"
    elif [[ ", $depends," != *", $owner,"* && ", $depends," != *", $owner ("* ]]; then
      fail "$(basename "$exe") needs $soname from $owner, which Depends lacks"
    fi
  done <<<"$needed"
done

# --- The packaged binaries run ----------------------------------------------------
if out=$("$bin/leadvaultd" --version 2>&1); then
  [[ $out == *"$version"* ]] || fail "leadvaultd --version does not name $version: $out"
else
  fail "leadvaultd --version exited $?: $out"
fi
"$bin/leadvaultctl" --version >/dev/null 2>&1 || fail "leadvaultctl --version exited $?"

config=$tmp/root/etc/leadvault/leadvault.toml
"$bin/leadvaultd" --config "$config" --check-config >"$tmp/check.log" 2>&1 ||
  fail "leadvaultd --check-config rejects the shipped config: $(cat "$tmp/check.log")"
# Flags override the shipped config: a scratch data dir and ports of our own (the
# config's metrics port is fixed; two tests must not share it).
"$bin/leadvaultd" --config "$config" --data-dir "$tmp/data" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --ready-file "$tmp/ready" --admin-token-file "$tmp/admin-token" \
  >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for ((i = 0; i < 600; i++)); do
  [[ -s $tmp/ready ]] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ ! -s $tmp/ready ]]; then
  cat "$tmp/daemon.log" >&2
  fatal "leadvaultd (packaged, with the shipped config) never became ready"
fi
address=$(head -n1 "$tmp/ready")
echo "packaged leadvaultd serving on $address"

[[ $(stat -c %a "$tmp/admin-token") == 600 ]] ||
  fail "admin token file has mode $(stat -c %a "$tmp/admin-token"), not 600"
if ! LEADVAULT_TOKEN=$(head -n1 "$tmp/admin-token") \
  "$bin/leadvaultctl" --server "$address" principal list >"$tmp/principals" 2>&1; then
  fail "leadvaultctl principal list with the admin token: $(cat "$tmp/principals")"
elif ! awk 'NR > 1 && $0 ~ /(^|[ ,])admin([ ,]|$)/' "$tmp/principals" | grep -q .; then
  fail "principal list shows no admin principal: $(cat "$tmp/principals")"
fi
if LEADVAULT_TOKEN=lv_nobody_notasecret \
  "$bin/leadvaultctl" --server "$address" principal list >/dev/null 2>&1; then
  fail "leadvaultctl principal list with a made-up token succeeded"
fi

kill -TERM "$daemon_pid"
for ((i = 0; i < 600; i++)); do
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$daemon_pid" 2>/dev/null; then
  fail "leadvaultd did not exit within 60 s of SIGTERM"
else
  rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  [[ $rc -eq 0 ]] || {
    cat "$tmp/daemon.log" >&2
    fail "leadvaultd exited $rc after SIGTERM, not 0"
  }
fi

if ((failures > 0)); then
  echo "package_deb_test: $failures failure(s)" >&2
  exit 1
fi
echo "package_deb_test: ok"
