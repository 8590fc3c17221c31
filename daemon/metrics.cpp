#include "daemon/metrics.hpp"

#include <sstream>

#include "daemon/sealed_file.hpp"

#ifndef ALMANAC_VERSION
#define ALMANAC_VERSION "0.0.0"
#endif

namespace almanac {

Metrics::Metrics() = default;

void Metrics::count_request(const std::string& route, unsigned status) {
    std::lock_guard lock(mutex_);
    ++requests_[{route, status}];
}

void Metrics::record_rebuild(std::string_view reason, bool ok, double seconds) {
    std::lock_guard lock(mutex_);
    ++rebuilds_[{std::string(reason), ok}];
    for (std::size_t i = 0; i < buckets_.size(); ++i)
        if (seconds <= buckets_[i]) ++duration_buckets_[i];
    ++duration_count_;
    duration_sum_ += seconds;
}

void Metrics::count_rejected_reload() {
    std::lock_guard lock(mutex_);
    ++rejected_reloads_;
}

void Metrics::set_connections_source(std::function<std::size_t()> source) {
    std::lock_guard lock(mutex_);
    connections_ = std::move(source);
}

std::string Metrics::render(const Snapshot& snapshot) const {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    std::lock_guard lock(mutex_);
    const auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    };
    family("almanac_build_info", "gauge", "The running version.");
    out << "almanac_build_info{version=\"" ALMANAC_VERSION "\"} 1\n";

    family("almanac_http_requests_total", "counter", "HTTP responses by route and status code.");
    for (const auto& [key, n] : requests_)
        out << "almanac_http_requests_total{route=\"" << key.first << "\",code=\"" << key.second << "\"} " << n << '\n';

    family("almanac_rebuilds_total", "counter", "Rebuilds by reason and result.");
    for (const auto& [key, n] : rebuilds_)
        out << "almanac_rebuilds_total{reason=\"" << key.first << "\",result=\"" << (key.second ? "ok" : "failed")
            << "\"} " << n << '\n';
    family("almanac_config_reloads_rejected_total", "counter", "SIGHUP reloads refused because the config was invalid.");
    out << "almanac_config_reloads_rejected_total " << rejected_reloads_ << '\n';

    family("almanac_rebuild_duration_seconds", "histogram", "Time from a change to a new snapshot.");
    for (std::size_t i = 0; i < buckets_.size(); ++i)
        out << "almanac_rebuild_duration_seconds_bucket{le=\"" << buckets_[i] << "\"} " << duration_buckets_[i] << '\n';
    out << "almanac_rebuild_duration_seconds_bucket{le=\"+Inf\"} " << duration_count_ << '\n'
        << "almanac_rebuild_duration_seconds_sum " << duration_sum_ << '\n'
        << "almanac_rebuild_duration_seconds_count " << duration_count_ << '\n';

    std::size_t errors = 0;
    for (const auto& d : snapshot.site->diagnostics) errors += d.severity == Severity::error;
    family("almanac_content_errors", "gauge", "Content problems of severity error in the live snapshot.");
    out << "almanac_content_errors " << errors << '\n';
    family("almanac_content_warnings", "gauge", "Content problems of severity warning in the live snapshot.");
    out << "almanac_content_warnings " << snapshot.site->diagnostics.size() - errors << '\n';
    family("almanac_items", "gauge", "Items in the live snapshot.");
    out << "almanac_items " << snapshot.site->items.size() << '\n';
    family("almanac_snapshot_generation", "gauge", "Generation number of the live snapshot.");
    out << "almanac_snapshot_generation " << snapshot.generation << '\n';
    family("almanac_documents", "gauge", "Pre-rendered documents in the live snapshot.");
    out << "almanac_documents " << snapshot.documents.size() << '\n';
    family("almanac_view_cache_entries", "gauge", "Views rendered on demand and cached for the live snapshot.");
    out << "almanac_view_cache_entries " << snapshot.views.size() << '\n';
    family("almanac_sealed_files", "gauge", "Documents held in sealed memory files for sendfile.");
    out << "almanac_sealed_files " << SealedFile::open_files() << '\n';
    family("almanac_sealed_bytes", "gauge", "Bytes held in those sealed memory files.");
    out << "almanac_sealed_bytes " << SealedFile::open_bytes() << '\n';
    if (connections_) {
        family("almanac_open_connections", "gauge", "Open HTTP connections.");
        out << "almanac_open_connections " << connections_() << '\n';
    }
    return out.str();
}

}  // namespace almanac
