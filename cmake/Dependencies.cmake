# Every dependency comes from a Debian package, found with find_package or pkg-config.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(date CONFIG REQUIRED)           # libhowardhinnant-date-dev (date::date-tz, OS tzdb)
find_package(yaml-cpp CONFIG REQUIRED)       # libyaml-cpp-dev
find_package(spdlog CONFIG REQUIRED)         # libspdlog-dev
find_package(nlohmann_json CONFIG REQUIRED)  # nlohmann-json3-dev
find_package(Boost 1.74 REQUIRED)            # libboost-dev (Asio, Beast: header-only)
pkg_check_modules(LIBICAL REQUIRED IMPORTED_TARGET libical)          # libical-dev
pkg_check_modules(CMARK REQUIRED IMPORTED_TARGET libcmark-gfm)       # libcmark-gfm(-extensions)-dev
pkg_check_modules(GUMBO REQUIRED IMPORTED_TARGET gumbo)                # libgumbo-dev (the HTML sanitizer's parser)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)      # libtomlplusplus-dev
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)                # zlib1g-dev
pkg_check_modules(BROTLI REQUIRED IMPORTED_TARGET libbrotlienc)      # libbrotli-dev
pkg_check_modules(BROTLIDEC REQUIRED IMPORTED_TARGET libbrotlidec)  # libbrotli-dev (tests decode what we encode)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)       # libxxhash-dev
pkg_check_modules(LIBIDN2 REQUIRED IMPORTED_TARGET libidn2)         # libidn2-dev (punycode hosts in URLs)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)       # libsystemd-dev
