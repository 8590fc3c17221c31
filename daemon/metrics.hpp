// The daemon's counters and their Prometheus text exposition (SPEC §5 /metrics): requests by route
// and status, rebuilds by reason and result, rebuild durations, content errors, snapshot facts.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/snapshot.hpp"

namespace almanac {

class Metrics {
public:
    Metrics();

    void count_request(const std::string& route, unsigned status);
    // reason: "start", "change", "time", "reload"; ok: the rebuild produced a snapshot.
    void record_rebuild(std::string_view reason, bool ok, double seconds);
    // A config reload that was rejected (the old config stays).
    void count_rejected_reload();

    // Reported by the HTTP server at exposition time.
    void set_connections_source(std::function<std::size_t()> source);

    // The exposition (text format 0.0.4) with the live snapshot's gauges.
    std::string render(const Snapshot& snapshot) const;

private:
    static constexpr std::array<double, 10> buckets_{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_;
    std::map<std::pair<std::string, bool>, std::uint64_t> rebuilds_;
    std::array<std::uint64_t, buckets_.size()> duration_buckets_{};
    std::uint64_t duration_count_ = 0;
    double duration_sum_ = 0;
    std::uint64_t rejected_reloads_ = 0;
    std::function<std::size_t()> connections_;
};

}  // namespace almanac
