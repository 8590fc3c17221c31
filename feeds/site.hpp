// A site: the configuration plus every item parsed from the content tree, with the checks that
// need more than one file (duplicate UIDs and permalinks). The input of every renderer.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "feeds/content.hpp"
#include "feeds/diagnostic.hpp"
#include "feeds/item.hpp"
#include "feeds/site_config.hpp"

namespace almanac {

struct Site {
    SiteConfig config;
    std::vector<Item> items;  // sorted by path, then index: independent of directory order
    Diagnostics diagnostics;  // every content problem (per-file and cross-file), sorted
};

// Assembles a site from parsed files (keyed by path relative to the content dir). Items whose UID
// repeats an earlier one (in path order) are dropped with an error at their file.
Site assemble_site(SiteConfig config, const std::map<std::string, ParsedSource>& files, Diagnostics tree_diagnostics);
// The same, moving the items out of `files` instead of copying them.
Site assemble_site(SiteConfig config, std::map<std::string, ParsedSource>&& files, Diagnostics tree_diagnostics);

}  // namespace almanac
