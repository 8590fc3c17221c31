// Progress of long operations (reading 100,000 files, rendering big feeds) in the log: one info line
// at most every few seconds, and only once the operation has lasted that long, so that small sites
// log nothing extra.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace almanac {

// What long operations report: `done` of `total` units.
using ProgressCallback = std::function<void(std::size_t done, std::size_t total)>;

class ProgressLog {
public:
    explicit ProgressLog(std::string what, std::chrono::milliseconds interval = std::chrono::seconds(2));

    // Logs "what: done of total (p%)" when `interval` has passed since the start or the last line.
    void update(std::size_t done, std::size_t total);

    // A callback that forwards to update(); valid while this object lives.
    ProgressCallback callback();

private:
    std::string what_;
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point last_;
};

}  // namespace almanac
