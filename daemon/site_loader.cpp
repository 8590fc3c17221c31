#include "daemon/site_loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <sys/stat.h>

#include "config/config_loader.hpp"
#include "daemon/parallel.hpp"
#include "feeds/text.hpp"

namespace almanac {

namespace fs = std::filesystem;

namespace {

// Reads a whole file, or says why not.
Expected<std::string> read_file(const fs::path& p, std::size_t limit) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec) return unexpected("cannot read: " + ec.message());
    if (size > limit)
        return unexpected("file is " + std::to_string(size) + " bytes; the limit is " + std::to_string(limit));
    std::ifstream in(p, std::ios::binary);
    if (!in) return unexpected("cannot open for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return unexpected("read error");
    return ss.str();
}

std::vector<std::string> top_level_folders(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (is_ignored_name(name)) continue;
        if (it->is_directory(ec) && !it->is_symlink(ec)) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::vector<std::string> content_folders(const std::string& content_dir) { return top_level_folders(content_dir); }

std::string display_path(const std::string& base, const std::string& file) {
    if (base.empty()) return file;
    const auto rel = fs::path(file).lexically_relative(base);
    if (rel.empty() || *rel.begin() == "..") return file;
    return rel.generic_string();
}

LoadedConfig load_config(const std::string& path, const ConfigOverrides& overrides) {
    LoadedConfig out;
    std::string chosen = path;
    if (chosen.empty() && fs::exists("almanac.yaml")) chosen = "almanac.yaml";
    SiteConfig config;
    if (chosen.empty()) {
        config = default_config(fs::current_path().string());
    } else {
        const auto text = read_file(chosen, 1024 * 1024);
        if (!text) {
            out.diagnostics.push_back({chosen, 0, 0, Severity::error, text.error()});
            return out;
        }
        const auto normalized = normalize_text(*text, chosen);
        if (!normalized.ok) {
            out.diagnostics.push_back(normalized.error);
            return out;
        }
        const auto base = fs::absolute(chosen).parent_path().lexically_normal().string();
        auto parsed = parse_config(normalized.text, chosen, base);
        out.diagnostics = std::move(parsed.diagnostics);
        if (!parsed.config) return out;
        config = std::move(*parsed.config);
    }
    if (overrides.content_dir) {
        auto dir = fs::absolute(*overrides.content_dir).lexically_normal();
        if (!dir.has_filename()) dir = dir.parent_path();
        config.content.dir = dir.string();
    }
    if (!overrides.listen.empty()) config.server.listen = overrides.listen;
    std::error_code ec;
    if (!fs::is_directory(config.content.dir, ec)) {
        out.diagnostics.push_back({config.path.empty() ? "." : config.path, 0, 0, Severity::error,
                                   "content directory " + config.content.dir + " does not exist"});
        return out;
    }
    complete_config(config, top_level_folders(config.content.dir));
    out.config = std::move(config);
    return out;
}

namespace {

FileStamp stamp_of(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return {};
    return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
            static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_ino)};
}

}  // namespace

ContentListing list_content(const SiteConfig& config) {
    const fs::path root(config.content.dir);
    const std::string base = config.base_dir.empty() ? fs::current_path().string() : config.base_dir;
    ContentListing out;
    Diagnostics& tree = out.diagnostics;

    for (const auto& folder : top_level_folders(root)) {
        if (!find_section(config, folder))
            tree.push_back({display_path(base, (root / folder).string()), 0, 0, Severity::warning,
                            "folder is not a section in the config (content.sections); its files are ignored"});
    }
    for (const auto& section : config.content.sections) {
        const fs::path dir = root / section.name;
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            tree.push_back({config.path.empty() ? display_path(base, dir.string()) : config.path, 0, 0,
                            Severity::warning, "section '" + section.name + "' has no folder " + dir.string()});
            continue;
        }
        fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            const fs::path& p = it->path();
            const std::string rel = p.lexically_relative(root).generic_string();
            const auto name = p.filename().string();
            std::error_code sec;
            if (it->is_symlink(sec)) {
                if (!is_ignored_name(name))
                    tree.push_back({display_path(base, p.string()), 0, 0, Severity::warning, "symbolic link not followed"});
                continue;
            }
            if (it->is_directory(sec)) {
                if (is_ignored_name(name)) it.disable_recursion_pending();
                continue;
            }
            if (!it->is_regular_file(sec)) continue;
            const FileRole role = classify_path(rel, section);
            if (role == FileRole::ignored || role == FileRole::unhandled) continue;
            out.files.push_back({rel, p.string(), display_path(base, p.string()), &section, role, stamp_of(p)});
        }
        // A folder removed while it is listed is a race with an editor, not a problem to report.
        if (ec && ec != std::errc::no_such_file_or_directory)
            tree.push_back({display_path(base, dir.string()), 0, 0, Severity::error, "cannot list: " + ec.message()});
    }
    std::sort(out.files.begin(), out.files.end(),
              [](const ContentFile& a, const ContentFile& b) { return a.path < b.path; });
    return out;
}

ParsedSource read_content_file(const ContentFile& file, const SiteConfig& config) {
    const auto bytes = read_file(file.absolute, max_content_file_bytes);
    if (!bytes) {
        ParsedSource failed;
        failed.display_path = file.shown;
        failed.diagnostics.push_back({file.shown, 0, 0, Severity::error, bytes.error()});
        return failed;
    }
    return parse_source(SourceFile{file.path, file.shown, *bytes}, *file.section, config);
}

Site load_site(const SiteConfig& config, const std::function<void(std::size_t, std::size_t)>& progress) {
    auto listing = list_content(config);
    // Files are read and parsed on render_threads() threads, in chunks; the site is assembled in
    // path order, so the result does not depend on which thread read what.
    const auto& files = listing.files;
    std::vector<ParsedSource> results(files.size());
    constexpr std::size_t chunk = 64;
    std::vector<std::function<void()>> tasks;
    std::mutex progress_mutex;
    std::size_t done = 0;
    for (std::size_t begin = 0; begin < files.size(); begin += chunk)
        tasks.emplace_back([&, begin] {
            const std::size_t end = std::min(files.size(), begin + chunk);
            for (std::size_t i = begin; i < end; ++i) results[i] = read_content_file(files[i], config);
            const std::lock_guard lock(progress_mutex);
            done += end - begin;
            if (progress) progress(done, files.size());
        });
    run_parallel(tasks, render_threads());
    std::map<std::string, ParsedSource> parsed;
    for (std::size_t i = 0; i < files.size(); ++i) parsed.emplace(files[i].path, std::move(results[i]));
    return assemble_site(config, std::move(parsed), std::move(listing.diagnostics));
}

}  // namespace almanac
