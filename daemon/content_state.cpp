#include "daemon/content_state.hpp"

#include <algorithm>

namespace almanac {

ContentState::ContentState(SiteConfig config) : config_(std::move(config)) {}

namespace {

// True when `path` lies below one of `folders` (paths relative to the content dir).
bool below_any(const std::string& path, const std::vector<std::string>& folders) {
    return std::any_of(folders.begin(), folders.end(), [&](const std::string& folder) {
        return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/';
    });
}

}  // namespace

ContentState::Refresh ContentState::refresh(const std::set<std::string>& hints, const ProgressCallback& progress,
                                            bool reread_all) {
    Refresh out;
    auto listing = list_content(config_);
    // A new symlink, FIFO or unreadable folder changes no file, but its diagnostic must be shown.
    out.tree_changed = listing.diagnostics != tree_diagnostics_;
    tree_diagnostics_ = std::move(listing.diagnostics);
    std::set<std::string> seen;
    for (const auto& file : listing.files) {
        if (progress) progress(seen.size(), listing.files.size());
        seen.insert(file.path);
        auto it = files_.find(file.path);
        if (it != files_.end() && it->second.stamp == file.stamp && !reread_all && !hints.contains(file.path)) continue;
        ParsedSource parsed = read_content_file(file, config_);
        Entry& entry = files_[file.path];
        entry.stamp = file.stamp;
        entry.shown = parsed.display_path.empty() ? file.shown : parsed.display_path;
        entry.diagnostics = std::move(parsed.diagnostics);
        entry.current_failed = has_errors(entry.diagnostics);
        // A file with errors yields no items; its last good items stay, unchanged, in the feeds.
        if (!entry.current_failed) {
            entry.good_items = std::move(parsed.items);
            entry.has_good = true;
            entry.version = next_version_++;
        }
        out.read.push_back(file.path);
    }
    for (auto it = files_.begin(); it != files_.end();) {
        // Files below a folder that could not be listed are unknown, not gone: their last version stays.
        if (seen.contains(it->first) || below_any(it->first, listing.unlisted)) {
            ++it;
            continue;
        }
        out.removed.push_back(it->first);
        it = files_.erase(it);
    }
    return out;
}

Site ContentState::site() const {
    std::map<std::string, ParsedSource> parsed;
    for (const auto& [path, entry] : files_) {
        ParsedSource& source = parsed[path];
        source.display_path = entry.shown;
        source.diagnostics = entry.diagnostics;
        if (entry.current_failed && entry.has_good) {
            source.items = entry.good_items;
            source.diagnostics.push_back({entry.shown, 0, 0, Severity::warning,
                                          "this version has errors: the feeds keep its last good version"});
        } else if (!entry.current_failed) {
            source.items = entry.good_items;
        }
    }
    return assemble_site(config_, std::move(parsed), tree_diagnostics_);
}

std::uint64_t ContentState::version(const std::string& path) const {
    const auto it = files_.find(path);
    return it == files_.end() ? 0 : it->second.version;
}

}  // namespace almanac
