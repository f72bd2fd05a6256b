#!/usr/bin/env bash
# A newer QGIS than Debian 12's, in a Debian chroot built from nothing, and commands run in it on this
# checkout (make test-qgis).
# Usage: scripts/qgis_chroot.sh build QGIS ROOT
#        scripts/qgis_chroot.sh run QGIS ROOT COMMAND...
#        scripts/qgis_chroot.sh pytest QGIS ROOT ARGUMENTS...   (run VENV's python -m pytest ARGUMENTS)
#   QGIS: 3.40 (Debian trixie: Python 3.13, numpy 2.2) or 3.44 (Debian forky: Python 3.14, numpy 2.4).
#   ROOT: where the chroot lives, outside the checkout. build makes what is missing: the system
#   (debootstrap, then Debian's QGIS) and the venv VENV, which sees Debian's numpy, GDAL and QGIS
#   (--system-site-packages) and adds the packages of requirements.txt and requirements-dev.txt, numpy
#   pinned to Debian's. A stamp written last marks each part complete, so a half-built one is rebuilt.
#   run and pytest build what is missing, then run in this checkout (bind-mounted at its own path), and
#   unmount everything when they end, also on failure or interrupt.
set -euo pipefail

action=$1 qgis=$2 root=$(realpath -m "$3")
shift 3
case $qgis in
  3.40) suite=trixie script=trixie ;;
  3.44) suite=forky script=sid ;;  # bookworm's debootstrap has no forky script; sid's builds testing too
  *) echo "QGIS=$qgis: 3.40 (Debian trixie) or 3.44 (Debian forky)" >&2; exit 2 ;;
esac
repo=$(cd "$(dirname "$0")/.." && pwd)
case $root/ in "$repo"/*) echo "the chroot must live outside the checkout: $root" >&2; exit 2 ;; esac

# What the tests need from Debian (the Makefile's APT_PKGS less chromium, whose report tests skip without
# it): make for the tests' `make zip`, xvfb and xauth for the desktop window tests, python3-pip for the
# plugin's installer (it runs QGIS's own Python's pip).
APT_PKGS="qgis python3-qgis qgis-providers python3-rasterio python3-pyproj proj-bin python3-scipy python3-matplotlib
          python3-venv python3-pip zip make xvfb xauth"
VENV=/opt/euromine/venv
MARK=.euromine-chroot SYSTEM_STAMP=$root/.euromine-system VENV_STAMP=$root$VENV/.euromine-venv
HOST_CA=/etc/ssl/certs/ca-certificates.crt CA=/opt/euromine/host-ca.crt

# The Debian mirror this machine's apt uses (deb822 or one-line sources), else Debian's own.
host_mirror() {
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed 's/\[[^]]*\]//' | awk '{print $2}'
    echo http://deb.debian.org/debian
  } | awk '/\/debian\/?$/ && !found { print; found = 1 }'
}
MIRROR=${MIRROR:-$(host_mirror)}

# One build or run of a chroot at a time: a second would unmount the first one's mounts.
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock -n 9 || { echo "another make test-qgis uses $root" >&2; exit 1; }

mounted=()
mount_bind() {
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mounted+=("$2")
}
unmount_all() {
  # processes left behind inside (an Xvfb, a dask worker) would keep the mounts busy
  local pid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "$pid" 2>/dev/null || true
  done
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "${mounted[i]}"; then umount "${mounted[i]}" 2>/dev/null || umount --lazy "${mounted[i]}"; fi
  done
  mounted=()
}
cleanup() {
  # a second signal (make sends SIGTERM on to its recipe's shell) must not cut the cleanup short
  trap '' INT TERM HUP
  unmount_all
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# a run killed without its trap (SIGKILL) leaves mounts: take them down before anything else
stale=$(findmnt -rn -o TARGET | awk -v under="$root/" 'index($0, under) == 1' | sort -r)
for target in $stale; do umount "$target" 2>/dev/null || umount --lazy "$target"; done

mount_system() {
  mount_bind /proc "$root/proc"
  mount_bind /sys "$root/sys"
  mount_bind /dev "$root/dev"
  mount_bind /dev/pts "$root/dev/pts"
  mount_bind /dev/shm "$root/dev/shm"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root$(dirname $CA)"
  cp "$HOST_CA" "$root$CA"  # this machine reaches the package index only with its own CA bundle
}

# COMMAND inside, with a clean environment; pip sees the host's CA bundle and index settings, and the tests
# where the installer's pip gets its wheels (EUROMINE_INSTALL_FROM, tests/e2e/test_install_dependencies.py).
inside() {
  local pass=() name
  for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT EUROMINE_INSTALL_FROM; do
    [ -n "${!name:-}" ] && pass+=("$name=${!name}")
  done
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=$CA SSL_CERT_FILE=$CA REQUESTS_CA_BUNDLE=$CA PIP_DISABLE_PIP_VERSION_CHECK=1 "${pass[@]}" "$@"
}

build_system() {
  echo "qgis_chroot: building QGIS $qgis (Debian $suite from $MIRROR) in $root"
  # only a folder this script made (its mark is written first) is removed; --one-file-system: never
  # into a mount, should one have survived
  if [ -e "$root" ] && [ -n "$(ls -A "$root")" ] && [ ! -e "$root/$MARK" ]; then
    echo "$root is not empty and not a chroot of this script: remove it or choose another QGIS_CHROOTS" >&2
    exit 1
  fi
  rm -rf --one-file-system "$root"
  mkdir -p "$root" && touch "$root/$MARK"
  # a fresh Debian 12 machine (CI's) has no debootstrap
  command -v debootstrap > /dev/null || { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap > /dev/null; }
  debootstrap --variant=minbase "$suite" "$root" "$MIRROR" "/usr/share/debootstrap/scripts/$script" > "$root.debootstrap.log" \
    || { tail -20 "$root.debootstrap.log" >&2; exit 1; }
  echo "deb $MIRROR $suite main" > "$root/etc/apt/sources.list"
  # testing's Release file may be past its Valid-Until when the mirror is a snapshot
  printf 'APT::Install-Recommends "false";\nAcquire::Check-Valid-Until "false";\n' > "$root/etc/apt/apt.conf.d/90euromine"
  mount_system
  inside apt-get update -qq
  # shellcheck disable=SC2086
  inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $APT_PKGS > "$root.apt.log" \
    || { tail -20 "$root.apt.log" >&2; exit 1; }
  inside apt-get clean
  unmount_all
  echo "$APT_PKGS" > "$SYSTEM_STAMP"
}

# The plugin's and the tests' packages, without numpy's line: numpy is Debian's, QGIS's GDAL is built for it.
requirements() {
  cat "$repo/requirements.txt" "$repo/requirements-dev.txt" | grep -v -E '^[[:space:]]*numpy([^a-zA-Z0-9_.-]|$)'
}

build_venv() {
  echo "qgis_chroot: venv $VENV in $root"
  mount_system
  rm -rf "$root$VENV"
  inside python3 -m venv --system-site-packages "$VENV"
  requirements > "$root$VENV/requirements.txt"
  inside python3 -c 'import numpy; print(f"numpy=={numpy.__version__}")' > "$root$VENV/constraints.txt"
  inside "$VENV/bin/python" -m pip install -q -r "$VENV/requirements.txt" -c "$VENV/constraints.txt"
  inside "$VENV/bin/python" -c 'import numpy, osgeo.gdal_array, rasterio, onnxruntime, qgis.core, sys
with open(sys.argv[1]) as f:
    assert numpy.__version__ == f.read().strip().split("==")[1], numpy.__version__' "$VENV/constraints.txt"
  unmount_all
  requirements | sha256sum > "$VENV_STAMP"
}

build() {
  [ "$(cat "$SYSTEM_STAMP" 2>/dev/null)" = "$APT_PKGS" ] || build_system
  [ "$(cat "$VENV_STAMP" 2>/dev/null)" = "$(requirements | sha256sum)" ] || build_venv
}

# COMMAND in this checkout inside. VENV stays off PATH, as .venv is on the host: QGIS's embedded Python
# takes the first python3 on PATH for its own, and would see VENV's packages without PYTHONPATH.
in_checkout() {
  build
  mount_system
  mount_bind "$repo" "$root$repo"
  # in the background, so that a signal runs the traps at once, not when COMMAND has ended
  inside env QT_QPA_PLATFORM=offscreen PYTHONDONTWRITEBYTECODE=1 EUROMINE_CACHE_DIR=/var/cache/euromine-tests \
    /bin/sh -c 'cd "$0" && exec "$@"' "$repo" "$@" &
  wait $!
}

case $action in
  build) build ;;
  run) in_checkout "$@" ;;
  pytest) in_checkout "$VENV/bin/python" -m pytest "$@" ;;
  *) echo "usage: $0 build|run|pytest QGIS ROOT [COMMAND or pytest's ARGUMENTS...]" >&2; exit 2 ;;
esac
