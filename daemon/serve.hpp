// `almanac serve` (SPEC §6): build once, serve the snapshot over HTTP, watch the content and rebuild
// on changes and at visibility boundaries, reload the config on SIGHUP, drain on SIGTERM/SIGINT.
#pragma once

#include <string>

#include "daemon/site_loader.hpp"

namespace almanac {

struct ServeOptions {
    std::string config_path;  // empty: ./almanac.yaml when present, else defaults
    ConfigOverrides overrides;
};

// Runs the daemon until SIGTERM or SIGINT. Returns 0 after a clean drain, 1 when it cannot start
// (invalid config, a listen address in use) after logging one clear line saying why.
int run_serve(const ServeOptions& options);

}  // namespace almanac
