#include "daemon/content_state.hpp"

#include <algorithm>
#include <atomic>
#include <string_view>
#include <unordered_map>

namespace almanac {

ContentState::ContentState(SiteConfig config) : config_(std::move(config)) {}

namespace {

// Versions count for the whole process, not per state: a state made after a reload must not give
// an item the serial (Item::serial) that an item of the state before it had.
std::atomic<std::uint64_t> next_version{1};

// True when `path` lies below one of `folders` (paths relative to the content dir).
bool below_any(const std::string& path, const std::vector<std::string>& folders) {
    return std::any_of(folders.begin(), folders.end(), [&](const std::string& folder) {
        return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/';
    });
}

}  // namespace

void ContentState::read(const ContentFile& file, Refresh& out) {
    ParsedSource parsed = read_content_file(file, config_);
    const auto [at, added] = files_.try_emplace(file.path);
    Entry& entry = at->second;
    const Diagnostics shown_before = std::move(entry.served.diagnostics);
    entry.stamp = file.stamp;
    entry.shown = parsed.display_path.empty() ? file.shown : parsed.display_path;
    entry.diagnostics = std::move(parsed.diagnostics);
    entry.current_failed = has_errors(entry.diagnostics);
    // A file with errors yields no items; its last good items stay, unchanged, in the feeds.
    if (!entry.current_failed) {
        // Copied rather than moved: the parser's strings grew by appending and have up to half their
        // capacity spare, a copy has none (69 → 44 MB of items on the 10k site). Only files that
        // changed are copied.
        entry.good_items.clear();
        entry.version = next_version++;
        for (const auto& item : parsed.items) {
            auto kept = std::make_shared<Item>(item);
            kept->serial = entry.version;  // versions are never reused: (serial, index) names this item
            entry.good_items.push_back(std::move(kept));
        }
        entry.has_good = true;
    }
    entry.serve();
    if (added || entry.served.diagnostics != shown_before) reassemble_ = true;
    else edited_.insert(file.path);
    out.read.push_back(file.path);
}

ContentState::Refresh ContentState::refresh(const std::set<std::string>& hints, const ProgressCallback& progress,
                                            bool reread_all) {
    Refresh out;
    out.walked = true;
    auto listing = list_content(config_);
    // A new symlink, FIFO or unreadable folder changes no file, but its diagnostic must be shown.
    out.tree_changed = listing.diagnostics != folder_diagnostics_ || listing.entry_diagnostics != entry_diagnostics_;
    folder_diagnostics_ = std::move(listing.diagnostics);
    entry_diagnostics_ = std::move(listing.entry_diagnostics);
    unlisted_ = std::move(listing.unlisted);
    listed_ = true;
    std::set<std::string> seen;
    for (const auto& file : listing.files) {
        if (progress) progress(seen.size(), listing.files.size());
        seen.insert(file.path);
        auto it = files_.find(file.path);
        if (it != files_.end() && it->second.stamp == file.stamp && !reread_all && !hints.contains(file.path)) continue;
        read(file, out);
    }
    for (auto it = files_.begin(); it != files_.end();) {
        // Files below a folder that could not be listed are unknown, not gone: their last version stays.
        if (seen.contains(it->first) || below_any(it->first, unlisted_)) {
            ++it;
            continue;
        }
        out.removed.push_back(it->first);
        it = files_.erase(it);
    }
    if (!out.removed.empty() || out.tree_changed) reassemble_ = true;
    return out;
}

ContentState::Refresh ContentState::refresh_paths(const std::set<std::string>& paths, const ProgressCallback& progress) {
    if (!listed_) return refresh(paths, progress);
    // Every path is examined before anything changes, so that falling back to a walk starts afresh.
    std::vector<std::pair<const std::string*, ContentPath>> examined;
    for (const auto& path : paths) {
        if (below_any(path, unlisted_)) continue;  // unknown until its folder can be listed: kept as it is
        auto found = examine_content_path(config_, path);
        if (found.kind == ContentPath::Kind::folder) return refresh(paths, progress);
        examined.emplace_back(&path, std::move(found));
    }
    Refresh out;
    for (std::size_t i = 0; i < examined.size(); ++i) {
        if (progress) progress(i, examined.size());
        const std::string& path = *examined[i].first;
        const ContentPath& found = examined[i].second;
        if (found.kind == ContentPath::Kind::reported) {
            const auto it = entry_diagnostics_.find(path);
            if (it == entry_diagnostics_.end() || !(it->second == found.diagnostic)) {
                entry_diagnostics_.insert_or_assign(path, found.diagnostic);
                out.tree_changed = true;
            }
        } else if (entry_diagnostics_.erase(path) > 0) {
            out.tree_changed = true;
        }
        if (found.kind == ContentPath::Kind::file) read(found.file, out);
        else if (files_.erase(path) > 0) out.removed.push_back(path);
    }
    if (!out.removed.empty() || out.tree_changed) reassemble_ = true;
    return out;
}

void ContentState::Entry::serve() {
    served.display_path = shown;
    served.diagnostics = diagnostics;
    served.items.clear();
    if (current_failed && has_good) {
        served.items = good_items;
        served.diagnostics.push_back({shown, 0, 0, Severity::warning, "this version has errors: the feeds keep its last good version"});
    } else if (!current_failed) {
        served.items = good_items;
    }
}

Site ContentState::site() {
    if (reassemble_ || !last_site_ || !patch()) assemble();
    reassemble_ = false;
    edited_.clear();
    return *last_site_;
}

void ContentState::assemble() {
    SharedSources files;
    files.reserve(files_.size());
    for (const auto& [path, entry] : files_) files.emplace_back(path, &entry.served);
    Diagnostics tree = folder_diagnostics_;
    for (const auto& [path, diagnostic] : entry_diagnostics_) tree.push_back(diagnostic);
    last_site_ = assemble_site(config_, files, std::move(tree));
    ++assemblies_;

    // Which files an edit may patch: every item kept (the site keeps the files' order and drops
    // only repeated UIDs), and no UID or permalink that another item has as well.
    std::unordered_map<std::string_view, int> uids, permalinks;
    for (const auto& [path, entry] : files_)
        for (const auto& item : entry.served.items)
            if (item->type != SectionType::page) {
                ++uids[item->uid];
                ++permalinks[item->permalink];
            }
    std::size_t at = 0;
    const ItemList& items = last_site_->items;
    for (auto& [path, entry] : files_) {
        entry.site_begin = at;
        entry.patchable = true;
        for (const auto& item : entry.served.items) {
            if (at < items.size() && items.shared(at) == item) ++at;
            else entry.patchable = false;
            if (item->type != SectionType::page && (uids[item->uid] > 1 || permalinks[item->permalink] > 1))
                entry.patchable = false;
        }
        entry.site_count = entry.served.items.size();
    }
}

bool ContentState::patch() {
    for (const auto& path : edited_) {
        const auto it = files_.find(path);
        if (it == files_.end() || !it->second.patchable) return false;
        const Entry& entry = it->second;
        const auto& items = entry.served.items;
        if (items.size() != entry.site_count) return false;
        for (std::size_t k = 0; k < items.size(); ++k) {
            const Item& before = last_site_->items[entry.site_begin + k];
            if (before.path != items[k]->path || before.type != items[k]->type || before.uid != items[k]->uid ||
                before.permalink != items[k]->permalink)
                return false;
        }
    }
    for (const auto& path : edited_) {
        const Entry& entry = files_.at(path);
        for (std::size_t k = 0; k < entry.served.items.size(); ++k)
            last_site_->items.replace(entry.site_begin + k, entry.served.items[k]);
    }
    return true;
}

std::uint64_t ContentState::version(const std::string& path) const {
    const auto it = files_.find(path);
    return it == files_.end() ? 0 : it->second.version;
}

}  // namespace almanac
