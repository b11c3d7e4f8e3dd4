# Sourced by build_deb.sh: the package's Python environment for another architecture (DEB_ARCH).
#
# A venv for a foreign architecture cannot be made by running the target's Python here, and it does
# not need to be: a Debian venv is symlinks to /usr/bin/python3 plus pyvenv.cfg, the same on every
# architecture. The architecture lives in what goes into site-packages: pip downloads the target's
# binary wheels (`--platform ... --only-binary=:all:`) and installs them with `--target`;
# systemd-python (no wheels on PyPI) comes from Debian's python3-systemd for the target architecture.

# cross_env STAGE PREFIX PYVER ARCH WORK
cross_env() {
  local stage="$1" prefix="$2" pyver="$3" arch="$4" work="$5"
  local machine em
  case "$arch" in
    arm64) machine=aarch64 em=183 ;;
    amd64) machine=x86_64 em=62 ;;
    *) say "DEB_ARCH=$arch: only arm64 and amd64 are supported"; return 1 ;;
  esac
  local site="$stage/lib/python$pyver/site-packages"
  local pyfull
  pyfull="$("$PYTHON" -c 'import platform; print(platform.python_version())')"

  # The layout `python3 -m venv` makes on Debian (symlinks, not copies).
  mkdir -p "$stage/bin" "$stage/include" "$site"
  ln -s lib "$stage/lib64"
  ln -s /usr/bin/python3 "$stage/bin/python3"
  ln -s python3 "$stage/bin/python"
  ln -s python3 "$stage/bin/python$pyver"
  cat > "$stage/pyvenv.cfg" <<EOF
home = /usr/bin
include-system-site-packages = false
version = $pyfull
executable = /usr/bin/python$pyver
command = /usr/bin/python3 -m venv $prefix
EOF

  # Wheel tags the target's pip would accept, best first: manylinux_2_<glibc>..2_17, manylinux2014.
  # Same Debian release as this machine, so the same glibc.
  local glibc_minor plat=() v
  glibc_minor="$(getconf GNU_LIBC_VERSION | sed -n 's/^glibc 2\.\([0-9]*\).*/\1/p')"
  for ((v = glibc_minor; v >= 17; v--)); do plat+=(--platform "manylinux_2_${v}_${machine}"); done
  plat+=(--platform "manylinux2014_${machine}")
  local target=(--only-binary=:all: --implementation cp --python-version "$pyver"
    --abi "cp${pyver/./}" --abi abi3 --abi none "${plat[@]}")

  # The runtime dependencies from pyproject.toml, minus systemd-python (Debian's, below).
  local reqs=()
  mapfile -t reqs < <("$PYTHON" - "$REPO/pyproject.toml" <<'EOF'
import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
for d in deps:
    if re.split(r"[<>=!~; \[]", d, maxsplit=1)[0].lower().replace("_", "-") != "systemd-python":
        print(d)
EOF
  )
  say "wheels for $machine: ${reqs[*]}"
  "${PIP_BUILD[@]}" download -q --disable-pip-version-check -d "$work/target-wheels" "${target[@]}" \
    "${reqs[@]}"
  "${PIP_BUILD[@]}" install -q --disable-pip-version-check --no-deps --no-index --target "$site" \
    "${target[@]}" "$work"/wheels/*.whl "$work"/target-wheels/*.whl

  # Console scripts: pip --target puts them in site-packages/bin with this machine's interpreter.
  local script
  for script in "$site"/bin/*; do
    sed -i "1s|^#!.*python.*|#!$prefix/bin/python3|" "$script"
    mv "$script" "$stage/bin/"
  done
  rmdir "$site/bin"

  local sysdeb="${DEB_SYSTEMD_DEB:-}"
  if [ -z "$sysdeb" ]; then
    sysdeb="$(fetch_debian_package python3-systemd "$arch" "$work/apt")"
  fi
  say "systemd-python from $(basename "$sysdeb")"
  mkdir -p "$work/python3-systemd"
  dpkg-deb -x "$sysdeb" "$work/python3-systemd"
  local dist="$work/python3-systemd/usr/lib/python3/dist-packages"
  ls "$dist"/systemd/_journal.cpython-"${pyver/./}"-"$machine"-linux-gnu.so >/dev/null \
    || { say "$(basename "$sysdeb") is not built for Python $pyver on $machine"; return 1; }
  cp -r "$dist"/systemd "$site/"
  cp -r "$dist"/systemd_python-*-info "$site/" 2>/dev/null || true

  # Nothing compiled for this machine may end up in the package.
  "$PYTHON" - "$stage" "$em" <<'EOF'
import pathlib, sys
root, want = pathlib.Path(sys.argv[1]), int(sys.argv[2])
bad = []
for p in root.rglob("*"):
    if p.is_file() and not p.is_symlink():
        with p.open("rb") as f:
            head = f.read(20)
        if head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") != want:
            bad.append(str(p.relative_to(root)))
if bad:
    sys.exit("build_deb: ELF files for another machine: " + ", ".join(bad[:10]))
EOF
}

# fetch_debian_package NAME ARCH DIR: download NAME for ARCH from this machine's apt sources into DIR
# with a private apt state (no change to the machine's apt configuration); prints the .deb's path.
fetch_debian_package() {
  local name="$1" arch="$2" dir="$3"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs"
  : > "$dir/status"
  local apt=(-q -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Dir::State::status=$dir/status"
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  # Sources that do not carry this architecture only warn; the download below is what must work.
  apt-get "${apt[@]}" update >"$dir/update.log" 2>&1 || true
  (cd "$dir/debs" && apt-get "${apt[@]}" download "$name:$arch" >"$dir/download.log" 2>&1) \
    || { say "apt-get download $name:$arch failed:"; cat "$dir/update.log" "$dir/download.log" >&2; return 1; }
  ls "$dir"/debs/"${name}"_*_"${arch}".deb
}
