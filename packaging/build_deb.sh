#!/bin/bash
# Build the triage-agent Debian package: `make deb [ARCH=arm64]` (or packaging/build_deb.sh [OUTDIR]).
#
# Layout of the package:
#   /opt/triage-agent/              its own Python environment (python3 -m venv + pip), the models
#   /usr/bin/triage-agent           -> /opt/triage-agent/bin/triage-agent (technician CLI)
#   /lib/systemd/system/triage-agent.service, /lib/udev/rules.d/99-triage-thermometer.rules
#   /etc/triage-agent/config.toml   conffile, 0640 root:triage-agent (group set by postinst)
#   /usr/share/doc/triage-agent/    the technician's documents (OPERATIONS.md first), uncompressed
# Needs: dpkg-deb, python3 (the target's Python: /usr/bin/python3 >= 3.11), network access to PyPI
# for the dependencies (or a pip cache/wheelhouse via PIP_FIND_LINKS).
#
# DEB_ARCH=arm64 on an amd64 machine builds for the other architecture (see docs/PACKAGING.md):
# the environment is laid out by hand (symlinks to the target's /usr/bin/python3, pyvenv.cfg), pip
# installs the target's binary wheels into it (`--platform manylinux_*_aarch64 --only-binary=:all:`),
# and systemd-python comes from Debian's python3-systemd for that architecture (downloaded with a
# private apt state from this machine's apt sources; DEB_SYSTEMD_DEB=path/to.deb uses a given one).
# The target must run the same Debian release as this machine (same Python minor version).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
OUT="${1:-$REPO/dist}"
PYTHON="${DEB_PYTHON:-/usr/bin/python3}"
PREFIX=/opt/triage-agent
PKG=triage-agent
TECHNICIAN_DOCS="OPERATIONS.md CONFIG.md ZONES.md SCREENING.md RELIABILITY.md INTEGRITY.md EVENTS.md PACKAGING.md"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/pyproject.toml" | head -1)"
DEBVER="${VERSION}-1"
HOST_ARCH="$(dpkg --print-architecture)"
ARCH="${DEB_ARCH:-$HOST_ARCH}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/triage-deb.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
STAGE="$ROOT$PREFIX"

say() { printf 'build_deb: %s\n' "$*" >&2; }

command -v dpkg-deb >/dev/null || { say "dpkg-deb missing: sudo apt-get install dpkg-dev"; exit 1; }
"$PYTHON" -c 'import sys, venv; assert sys.version_info >= (3, 11)' 2>/dev/null \
  || { say "$PYTHON must be Python >= 3.11 with venv: sudo apt-get install python3-venv"; exit 1; }
PYVER="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"

say "wheel of triage-agent $VERSION"
# Build with the project's dev environment (`make venv`): its setuptools reads pyproject.toml.
PIP_BUILD=("${BUILD_PIP:-$REPO/.venv/bin/pip}")
"${PIP_BUILD[@]}" wheel -q --no-deps --no-build-isolation -w "$WORK/wheels" "$REPO"

say "environment in $PREFIX (Python $PYVER, $ARCH)"
if [ "$ARCH" = "$HOST_ARCH" ]; then
  "$PYTHON" -m venv "$STAGE"
  "$STAGE/bin/pip" install -q --disable-pip-version-check "$WORK"/wheels/*.whl
  "$STAGE/bin/pip" uninstall -q -y pip setuptools wheel 2>/dev/null || true
else
  # shellcheck source=packaging/cross_env.sh
  . "$HERE/cross_env.sh"
  cross_env "$STAGE" "$PREFIX" "$PYVER" "$ARCH" "$WORK"
fi
# The district side (central/, triage-central) shares the wheel but is not for the box.
rm -rf "$STAGE"/lib/python*/site-packages/central "$STAGE/bin/triage-central"
# The venv was made at the staging path: point scripts and pyvenv.cfg at the installed path.
{ grep -rlI --null "$STAGE" "$STAGE/bin" "$STAGE/pyvenv.cfg" || true; } | xargs -0 -r sed -i "s#$STAGE#$PREFIX#g"
find "$STAGE" -name '__pycache__' -type d -prune -exec rm -rf {} +
# Wheels ship shared objects and metadata with exec bits; only bin/ holds programs (lintian).
find "$STAGE/lib" -type f -perm /111 -exec chmod a-x {} +
rm -f "$STAGE"/bin/activate* "$STAGE"/bin/Activate.ps1

say "models, docs, unit, udev rule, config"
mkdir -p "$STAGE/models" "$STAGE/share/doc"
if [ -f "$REPO/models/manifest.json" ]; then
  cp "$REPO/models/manifest.json" "$STAGE/models/"
  for f in "$REPO"/models/*.onnx; do [ -e "$f" ] && cp "$f" "$STAGE/models/"; done
  [ -d "$REPO/models/LICENSES" ] && cp -r "$REPO/models/LICENSES" "$STAGE/models/"
  [ -d "$REPO/models/cards" ] && cp -r "$REPO/models/cards" "$STAGE/models/"
fi
for doc in OPERATIONS.md PACKAGING.md CONFIG.md EVENTS.md; do
  [ -f "$REPO/docs/$doc" ] && cp "$REPO/docs/$doc" "$STAGE/share/doc/"
done
install -D -m 0644 "$HERE/triage-agent.service" "$ROOT/lib/systemd/system/triage-agent.service"
install -D -m 0644 "$HERE/99-triage-thermometer.rules" "$ROOT/lib/udev/rules.d/99-triage-thermometer.rules"
install -D -m 0640 "$HERE/config.example.toml" "$ROOT/etc/triage-agent/config.toml"
chmod 0750 "$ROOT/etc/triage-agent"
mkdir -p "$ROOT/usr/bin"
ln -s "$PREFIX/bin/triage-agent" "$ROOT/usr/bin/triage-agent"

DOCDIR="$ROOT/usr/share/doc/$PKG"
mkdir -p "$DOCDIR"
# What a technician needs on the box itself (OPERATIONS.md points to the others by these names).
# Uncompressed, so `less` and a browser open them as they are; every one must exist.
for doc in $TECHNICIAN_DOCS; do
  install -m 0644 "$REPO/docs/$doc" "$DOCDIR/$doc"
done
# A pristine copy of the shipped config: config errors point at it to start a file again.
install -m 0644 "$HERE/config.example.toml" "$DOCDIR/config.example.toml"
cat > "$DOCDIR/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: triage-agent
Source: https://example.invalid/triage-agent

Files: *
Copyright: triage-agent developers
License: MIT
 Third-party Python packages under $PREFIX/lib carry their own licence files
 in their *.dist-info folders; model licences are in $PREFIX/models/LICENSES.
EOF
printf '%s (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- triage-agent developers <dev@example.invalid>  %s\n' \
  "$PKG" "$DEBVER" "$VERSION" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")" \
  | gzip -9n > "$DOCDIR/changelog.Debian.gz"

mkdir -p "$ROOT/DEBIAN"
for script in postinst prerm postrm; do
  install -m 0755 "$HERE/debian/$script" "$ROOT/DEBIAN/$script"
done
echo /etc/triage-agent/config.toml > "$ROOT/DEBIAN/conffiles"
SIZE="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
cat > "$ROOT/DEBIAN/control" <<EOF
Package: $PKG
Version: $DEBVER
Architecture: $ARCH
Maintainer: triage-agent developers <dev@example.invalid>
Installed-Size: $SIZE
Depends: libc6, python3 (>= $PYVER), python3 (<< ${PYVER%.*}.$(( ${PYVER#*.} + 1 ))), libsystemd0, adduser, udev
Recommends: systemd-timesyncd | chrony | ntp
Section: misc
Priority: optional
Homepage: https://example.invalid/triage-agent
Description: clinic triage desk agent (temperature, mask, occupancy over MQTT)
 Reads an IR thermometer over serial, analyses camera frames on the device
 with ONNX Runtime and publishes compact JSON events over MQTT through a
 durable on-disk outbox. Runs as a hardened systemd service; raw images never
 leave the box. The technician CLI is triage-agent (diag, status, tail).
EOF

mkdir -p "$OUT"
DEB="$OUT/${PKG}_${DEBVER}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
say "built $DEB ($(du -h "$DEB" | cut -f1))"
echo "$DEB"
