#!/usr/bin/env bash
# The Debian package in one command, on a fresh Debian 12 machine (as root, or with sudo):
#   scripts/package.sh
# installs what is missing, makes a release build with Debian's hardening flags (dpkg-buildflags)
# in build-deb/, packs build-deb/package/almanac_<version>_<arch>.deb with CPack, and runs lintian
# on it (exit 1 on any error or warning). Install it with `apt install ./build-deb/package/almanac_*.deb`.
# ALMANAC_PACKAGE_BUILD_DIR overrides the build directory; ALMANAC_JOBS and ALMANAC_CMAKE_ARGS are
# passed on to scripts/dev.sh build. docs/development.md ("The Debian package") says more.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ALMANAC_PACKAGE_BUILD_DIR:-$here/build-deb}

# shellcheck source=scripts/lib.sh
source "$here/scripts/lib.sh"
# dpkg-buildflags and dpkg-shlibdeps (Depends:), lintian.
install_missing dpkg-dev lintian

# Every hardening feature dpkg-buildflags knows (+all adds bind-now to the defaults), handed to
# CMake in an initial cache file at each configure, so that the flags stay current.
cd "$here"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
flags=$(mktemp --suffix=.cmake)
trap 'rm -f "$flags"' EXIT
cat >"$flags" <<EOF
set(CMAKE_CXX_FLAGS "$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" CACHE STRING "dpkg-buildflags" FORCE)
set(CMAKE_EXE_LINKER_FLAGS "$(dpkg-buildflags --get LDFLAGS)" CACHE STRING "dpkg-buildflags" FORCE)
EOF
ALMANAC_BUILD_DIR=$build_dir ALMANAC_CMAKE_ARGS="-C $flags -DALMANAC_BUILD_TESTS=OFF ${ALMANAC_CMAKE_ARGS:-}" \
  "$here/scripts/dev.sh" build

rm -f "$build_dir"/package/almanac_*.deb
(cd "$build_dir" && cpack --config CPackConfig.cmake >/dev/null)
deb=$(ls "$build_dir"/package/almanac_*.deb)

# Errors and warnings fail; the informational tags left are explained in docs/development.md.
echo "== lintian $deb"
lintian --display-info "$deb" 2>/dev/null | tee "$build_dir/package/lintian.txt" || true
if grep -q '^[EW]: ' "$build_dir/package/lintian.txt"; then
  echo "lintian reports errors or warnings" >&2
  exit 1
fi
echo "== $deb"
