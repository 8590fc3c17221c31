# Shell helpers shared by scripts/dev.sh, scripts/fuzz.sh and bench/run_all.sh (sourced, not run).

# The Debian packages almanac is built from (scripts/dev.sh, scripts/fuzz.sh, scripts/package.sh).
build_packages=(
  build-essential cmake pkg-config ccache
  libboost-dev libhowardhinnant-date-dev tzdata libical-dev libyaml-cpp-dev libspdlog-dev
  libcmark-gfm-dev libcmark-gfm-extensions-dev libgumbo-dev libtomlplusplus-dev nlohmann-json3-dev
  zlib1g-dev libbrotli-dev libxxhash-dev libsystemd-dev libgtest-dev libidn2-dev
)

# Runs a command as root: directly when we are root, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages among "$@" that are not installed yet; does nothing when all are.
# RUNLEVEL=1: packages with a service (nginx) are installed, not started; the tests run their own.
install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}
