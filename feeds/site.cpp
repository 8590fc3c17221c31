#include "feeds/site.hpp"

#include <unordered_map>

namespace almanac {

Site assemble_site(SiteConfig config, const std::map<std::string, ParsedSource>& files, Diagnostics tree_diagnostics) {
    Site site;
    site.config = std::move(config);
    site.diagnostics = std::move(tree_diagnostics);
    std::unordered_map<std::string, const Item*> by_uid;
    std::unordered_map<std::string, const Item*> by_permalink;
    std::vector<const Item*> kept;
    for (const auto& [path, parsed] : files) {
        site.diagnostics.insert(site.diagnostics.end(), parsed.diagnostics.begin(), parsed.diagnostics.end());
        const std::string& display = parsed.display_path.empty() ? path : parsed.display_path;
        for (const auto& item : parsed.items) {
            if (item.type == SectionType::page) {
                kept.push_back(&item);
                continue;
            }
            if (const auto [it, fresh] = by_uid.emplace(item.uid, &item); !fresh) {
                site.diagnostics.push_back({display, item.line, 0, Severity::error,
                                            "uid '" + item.uid + "' is already used by " + it->second->path +
                                                (it->second->index >= 0 ? " (events[" + std::to_string(it->second->index) + "])" : "") +
                                                "; this item is left out"});
                continue;
            }
            if (const auto [it, fresh] = by_permalink.emplace(item.permalink, &item); !fresh) {
                site.diagnostics.push_back({display, item.line, 0, Severity::warning,
                                            "permalink " + item.permalink + " is the same as " + it->second->path +
                                                "'s; set `slug:` to tell them apart"});
            }
            kept.push_back(&item);
        }
    }
    site.items.reserve(kept.size());
    for (const auto* item : kept) site.items.push_back(*item);
    sort_diagnostics(site.diagnostics);
    return site;
}

}  // namespace almanac
