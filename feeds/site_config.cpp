#include "feeds/site_config.hpp"

#include <algorithm>

namespace almanac {

SectionConfig detected_section(const std::string& folder) {
    SectionConfig s;
    s.name = folder;
    s.type = (folder == "events" || folder == "meetups") ? SectionType::event : SectionType::post;
    s.permalink = "/:section/:slug/";
    return s;
}

void complete_config(SiteConfig& config, const std::vector<std::string>& content_folders) {
    if (!config.content.sections_given) {
        config.content.sections.clear();
        std::vector<std::string> folders = content_folders;
        std::sort(folders.begin(), folders.end());
        for (const auto& f : folders) config.content.sections.push_back(detected_section(f));
    }
    if (!config.feeds_given) {
        config.feeds.clear();
        for (const auto& s : config.content.sections) {
            if (s.type == SectionType::page) continue;
            FeedConfig f;
            f.name = s.name;
            f.title = config.site.title + " — " + s.name;
            f.sections = {s.name};
            if (s.type == SectionType::event) f.formats.push_back(FeedFormat::ics);
            f.formats.insert(f.formats.end(), {FeedFormat::rss, FeedFormat::atom, FeedFormat::json});
            config.feeds.push_back(std::move(f));
        }
    }
}

const SectionConfig* find_section(const SiteConfig& config, const std::string& name) {
    for (const auto& s : config.content.sections)
        if (s.name == name) return &s;
    return nullptr;
}

const FeedConfig* find_feed(const SiteConfig& config, std::string_view name) {
    for (const auto& f : config.feeds)
        if (f.name == name) return &f;
    return nullptr;
}

}  // namespace almanac
