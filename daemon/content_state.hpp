// The content as the daemon keeps it between rebuilds: every file's last parse, the items of its
// last good version, and a version number that changes whenever those items do. A rebuild re-reads
// only the files that changed on disk; a file that breaks keeps serving its last good items.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/progress.hpp"
#include "daemon/site_loader.hpp"
#include "feeds/site.hpp"

namespace almanac {

class ContentState {
public:
    explicit ContentState(SiteConfig config);

    struct Refresh {
        std::vector<std::string> read;     // files read again (new, changed or hinted)
        std::vector<std::string> removed;  // files gone since the last refresh
        bool tree_changed = false;         // the diagnostics about the tree differ (symlinks, special files)
        bool walked = false;               // the tree was listed (refresh), not only the paths looked at
        bool changed() const { return !read.empty() || !removed.empty() || tree_changed; }
    };

    // Lists the tree again and re-reads every file that is new, whose stamp (mtime, size, inode)
    // differs, or that `hints` names (paths relative to the content dir, e.g. from inotify); with
    // `reread_all` (events were lost, and an edit can keep a file's stamp), every file. Files below a
    // folder that cannot be listed keep their last version. `progress` hears (files examined, files
    // listed) as it goes.
    Refresh refresh(const std::set<std::string>& hints, const ProgressCallback& progress = nullptr,
                    bool reread_all = false);

    // Looks at `paths` only, without listing the tree, and re-reads those that are content files: for
    // the watcher's paths when it lost no event and saw no folder change, so that nothing else can
    // have changed. A path gone, or no longer content, is removed; a symlink or special file in its
    // place is reported as a walk would. Does refresh(paths) instead before the first listing, or
    // when a path is a folder or cannot be examined (permissions); a path below a folder the last
    // listing could not read keeps its last version until a listing can.
    Refresh refresh_paths(const std::set<std::string>& paths, const ProgressCallback& progress = nullptr);

    // The site made of every file's last good items, with the current diagnostics — including, for a
    // file whose latest version fails, its errors and a warning that the last good version is kept.
    // The items are shared with this state and every earlier site: only changed files' are new.
    // After an edit that changed no file's diagnostics, UIDs, permalinks or item kinds, and touched
    // no file whose UID or permalink another item repeats, the last site is patched with the edited
    // files' items instead of checking 11,000 items for duplicates again.
    Site site();

    // How many times site() has checked every item afresh rather than patched the last site.
    std::size_t assemblies() const { return assemblies_; }

    // A number that changes whenever the items of `path` change (0 for an unknown path).
    std::uint64_t version(const std::string& path) const;

    const SiteConfig& config() const { return config_; }

private:
    struct Entry {
        FileStamp stamp;
        std::string shown;
        std::vector<std::shared_ptr<const Item>> good_items;  // from the last version without errors
        bool has_good = false;
        bool current_failed = false;
        Diagnostics diagnostics;  // of the latest version
        std::uint64_t version = 0;
        SharedSource served;  // what site() assembles: the items served and the diagnostics shown
        void serve();         // makes `served` again from the fields above
        // Where last_site_ holds `served.items` (all of them, in order), when it holds all and none
        // has a UID or permalink another item repeats; else patchable is false.
        std::size_t site_begin = 0;
        std::size_t site_count = 0;
        bool patchable = false;
    };

    // Assembles last_site_ afresh and notes where each file's items are in it.
    void assemble();
    // Puts the items of the files in edited_ into last_site_; false, leaving it unusable, when one
    // of them cannot be patched in (see site()).
    bool patch();

    // Reads and parses `file` into its entry, noting it in `out`.
    void read(const ContentFile& file, Refresh& out);

    SiteConfig config_;
    std::map<std::string, Entry> files_;
    bool listed_ = false;                                  // refresh has listed the tree once
    Diagnostics folder_diagnostics_;                       // ContentListing::diagnostics of the last listing
    std::map<std::string, Diagnostic> entry_diagnostics_;  // ContentListing::entry_diagnostics, kept current
    std::vector<std::string> unlisted_;                    // ContentListing::unlisted of the last listing
    std::optional<Site> last_site_;                        // what site() gave last
    std::set<std::string> edited_;                         // files read again since, with the same diagnostics
    bool reassemble_ = true;                               // anything else changed since last_site_
    std::size_t assemblies_ = 0;
};

}  // namespace almanac
