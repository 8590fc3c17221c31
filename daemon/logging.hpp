// Log set-up: spdlog's default logger on standard error in one of three formats. "journal" prefixes
// each line with its syslog level (<3>, <4>, <6>, <7>) and leaves the timestamp to journald; it is
// chosen automatically when standard error is the journal (JOURNAL_STREAM names its device:inode).
#pragma once

#include <string>

#include "feeds/site_config.hpp"

namespace almanac {

// Applies log.level and log.format (text, journal, json) to the default logger.
void configure_logging(const LogConfig& config);

}  // namespace almanac
