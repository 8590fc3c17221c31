#include "feeds/site.hpp"

#include <string_view>
#include <type_traits>
#include <unordered_map>

namespace almanac {

namespace {

const Item& item_of(const Item& item) { return item; }
const Item& item_of(const std::shared_ptr<const Item>& item) { return *item; }

// A file's source, whether the files hold it or point at it.
template <class Source>
Source& source_of(Source& source) {
    return source;
}
inline const SharedSource& source_of(const SharedSource* source) { return *source; }

// Files is const (items copied into the site, or shared when they are shared_ptrs) or not (items moved).
template <class Files>
Site assemble(SiteConfig config, Files& files, Diagnostics tree_diagnostics) {
    using Element = std::remove_reference_t<decltype(*source_of(files.begin()->second).items.begin())>;
    Site site;
    site.config = std::move(config);
    site.diagnostics = std::move(tree_diagnostics);
    // Keys view the items' own strings: every item stays where it is until the checks are done.
    std::unordered_map<std::string_view, const Item*> by_uid;
    std::unordered_map<std::string_view, const Item*> by_permalink;
    by_uid.reserve(files.size());
    by_permalink.reserve(files.size());
    std::vector<Element*> kept;
    for (auto& [path, file] : files) {
        auto& parsed = source_of(file);
        site.diagnostics.insert(site.diagnostics.end(), parsed.diagnostics.begin(), parsed.diagnostics.end());
        const std::string_view display = parsed.display_path.empty() ? std::string_view(path) : std::string_view(parsed.display_path);
        for (auto& element : parsed.items) {
            const Item& item = item_of(element);
            if (item.type == SectionType::page) {
                kept.push_back(&element);
                continue;
            }
            if (const auto [it, fresh] = by_uid.emplace(item.uid, &item); !fresh) {
                site.diagnostics.push_back({std::string(display), item.line, 0, Severity::error,
                                            "uid '" + item.uid + "' is already used by " + it->second->path +
                                                (it->second->index >= 0 ? " (events[" + std::to_string(it->second->index) + "])" : "") +
                                                "; this item is left out"});
                continue;
            }
            if (const auto [it, fresh] = by_permalink.emplace(item.permalink, &item); !fresh) {
                site.diagnostics.push_back({std::string(display), item.line, 0, Severity::warning,
                                            "permalink " + item.permalink + " is the same as " + it->second->path +
                                                "'s; set `slug:` to tell them apart"});
            }
            kept.push_back(&element);
        }
    }
    site.items.reserve(kept.size());
    for (auto* element : kept) {
        if constexpr (std::is_const_v<Element>) site.items.push_back(*element);
        else site.items.push_back(std::move(*element));
    }
    sort_diagnostics(site.diagnostics);
    return site;
}

}  // namespace

Site assemble_site(SiteConfig config, const std::map<std::string, ParsedSource>& files, Diagnostics tree_diagnostics) {
    return assemble(std::move(config), files, std::move(tree_diagnostics));
}

Site assemble_site(SiteConfig config, std::map<std::string, ParsedSource>&& files, Diagnostics tree_diagnostics) {
    return assemble(std::move(config), files, std::move(tree_diagnostics));
}

Site assemble_site(SiteConfig config, const SharedSources& files, Diagnostics tree_diagnostics) {
    return assemble(std::move(config), files, std::move(tree_diagnostics));
}

}  // namespace almanac
