#include "daemon/progress.hpp"

#include <spdlog/spdlog.h>

namespace almanac {

ProgressLog::ProgressLog(std::string what, std::chrono::milliseconds interval)
    : what_(std::move(what)), interval_(interval), started_(std::chrono::steady_clock::now()), last_(started_) {}

void ProgressLog::update(std::size_t done, std::size_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    spdlog::info("{}: {} of {} ({}%), {:.1f} s so far", what_, done, total, total ? done * 100 / total : 100, seconds);
}

ProgressCallback ProgressLog::callback() {
    return [this](std::size_t done, std::size_t total) { update(done, total); };
}

}  // namespace almanac
