#include "daemon/site_loader.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_loader.hpp"
#include "daemon/parallel.hpp"
#include "feeds/text.hpp"

namespace almanac {

namespace fs = std::filesystem;

namespace {

// Running out of file descriptors or memory says nothing about the content: the caller must not
// take it for a broken or deleted file.
bool is_resource_exhaustion(const std::error_code& ec) {
    return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
           ec == std::errc::not_enough_memory || ec == std::errc::no_buffer_space;
}

std::error_code last_error() { return {errno, std::generic_category()}; }

class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

constexpr std::size_t mib = std::size_t{1024} * 1024;

std::string too_large(std::uint64_t size, std::size_t limit) {
    const auto limit_text = limit % mib == 0 ? std::to_string(limit / mib) + " MiB"
                                             : std::to_string(limit) + " bytes";
    return "file too large: " + std::to_string(size) + " bytes (the limit is " + limit_text + ")";
}

// Reads a whole regular file of at most `limit` bytes, or says why not. Opening never blocks (a FIFO
// would wait for a writer), and what is read is bounded even if the file grows meanwhile. Without
// `follow_symlinks`, a symlink put in the file's place since it was listed is refused. `gone`, when
// given, says whether the file was not there to open.
Expected<std::string> read_file(const fs::path& p, std::size_t limit, bool follow_symlinks, bool* gone = nullptr) {
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow_symlinks ? 0 : O_NOFOLLOW);
    const FileDescriptor fd(::open(p.c_str(), flags));
    if (fd.get() < 0) {
        const auto ec = last_error();
        if (gone) *gone = ec == std::errc::no_such_file_or_directory;
        if (is_resource_exhaustion(ec)) throw std::runtime_error("cannot open " + p.string() + ": " + ec.message());
        if (ec == std::errc::too_many_symbolic_link_levels && !follow_symlinks)
            return unexpected("symbolic link not followed");
        return unexpected("cannot read: " + ec.message());
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return unexpected("cannot read: " + last_error().message());
    if (!S_ISREG(st.st_mode)) return unexpected("not a regular file");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > limit) return unexpected(too_large(size, limit));
    std::string out(static_cast<std::size_t>(size), '\0');
    std::size_t have = 0;
    // One byte more than the limit tells a file that grew past it from one that fits.
    while (have <= limit) {
        if (have == out.size()) out.resize(std::min(limit + 1, std::max<std::size_t>(out.size() * 2, 4096)));
        const auto n = ::read(fd.get(), out.data() + have, out.size() - have);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const auto ec = last_error();
            if (is_resource_exhaustion(ec)) throw std::runtime_error("cannot read " + p.string() + ": " + ec.message());
            return unexpected("read error: " + ec.message());
        }
        have += static_cast<std::size_t>(n);
    }
    if (have > limit) return unexpected(too_large(have, limit));
    out.resize(have);
    return out;
}

// An entry of a folder and what lstat says of it.
struct StatEntry {
    std::string name;
    struct stat st;
};

// The file type readdir gives (no lstat needed), as a stat mode; 0 when the file system does not say.
mode_t mode_of_dirent_type(unsigned char type) {
    switch (type) {
        case DT_REG: return S_IFREG;
        case DT_DIR: return S_IFDIR;
        case DT_LNK: return S_IFLNK;
        case DT_FIFO: return S_IFIFO;
        case DT_SOCK: return S_IFSOCK;
        case DT_CHR: return S_IFCHR;
        case DT_BLK: return S_IFBLK;
        default: return 0;
    }
}

// The entries of one folder with their lstat, read at once so that only one folder is open at a
// time however deep the tree is. Each is looked at relative to the open folder (fstatat), not by
// walking its whole path again: listing 11,000 files spent most of its time in those walks. An
// entry gone since the folder was read is left out. `ec` tells why the folder could not be read.
// Without `stamps`, only st_mode is filled, from readdir's file type where the file system gives
// one (no lstat: 11,000 of them were a serial 25 ms of a build); such an entry may be gone already.
std::vector<StatEntry> folder_stats(const std::string& dir, std::error_code& ec, bool stamps = true) {
    std::vector<StatEntry> out;
    ec.clear();
    const auto fail = [&] {
        ec = last_error();
        if (is_resource_exhaustion(ec)) throw std::runtime_error("cannot list " + dir + ": " + ec.message());
    };
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fail();
        return out;
    }
    DIR* folder = ::fdopendir(fd);
    if (!folder) {
        ::close(fd);
        fail();
        return out;
    }
    const std::unique_ptr<DIR, int (*)(DIR*)> closer(folder, ::closedir);
    for (;;) {
        errno = 0;
        const dirent* entry = ::readdir(folder);
        if (!entry) {
            if (errno != 0) fail();
            break;
        }
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (!stamps) st.st_mode = mode_of_dirent_type(entry->d_type);
        if (st.st_mode == 0 && ::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone since it was read
        out.push_back({std::string(name), st});
    }
    return out;
}

// A folder removed (or replaced by a file) while it is listed is a race with an editor, not a
// problem to report.
bool is_gone(const std::error_code& ec) {
    return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

// Throws when the folder exists but cannot be listed: no sections at all would be the wrong answer.
std::vector<std::string> top_level_folders(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    const auto entries = folder_stats(dir.string(), ec);
    if (ec && !is_gone(ec)) throw std::runtime_error("cannot list " + dir.string() + ": " + ec.message());
    for (const auto& [name, st] : entries)
        if (!is_ignored_name(name) && S_ISDIR(st.st_mode)) out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

std::string file_type_name(fs::file_type type) {
    switch (type) {
        case fs::file_type::fifo: return "a FIFO";
        case fs::file_type::socket: return "a socket";
        case fs::file_type::block: return "a block device";
        case fs::file_type::character: return "a character device";
        default: return "a special file";
    }
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
        const auto text = read_file(chosen, mib, true);  // a config file of over 1 MiB is refused
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
    if (overrides.base_url) config.site.documents_url = *overrides.base_url;
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

FileStamp stamp_of(const struct stat& st) {
    return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
            static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_ino)};
}

fs::file_type file_type_of(mode_t mode) {
    if (S_ISREG(mode)) return fs::file_type::regular;
    if (S_ISDIR(mode)) return fs::file_type::directory;
    if (S_ISLNK(mode)) return fs::file_type::symlink;
    if (S_ISFIFO(mode)) return fs::file_type::fifo;
    if (S_ISSOCK(mode)) return fs::file_type::socket;
    if (S_ISBLK(mode)) return fs::file_type::block;
    if (S_ISCHR(mode)) return fs::file_type::character;
    return fs::file_type::unknown;
}

// "a/b" + "c" → "a/b/c"; an empty or "." prefix adds nothing.
std::string joined_path(const std::string& prefix, const std::string& name) {
    if (prefix.empty() || prefix == ".") return name;
    std::string out;
    out.reserve(prefix.size() + 1 + name.size());
    out += prefix;
    if (out.back() != '/') out += '/';
    out += name;
    return out;
}

// What the listing does with one entry `name` of a section's folder, `rel` being its path: the
// rules list_content walks by and examine_content_path applies to one path.
struct EntryVerdict {
    enum class Kind { skip,
                      folder,
                      file,
                      reported };
    Kind kind = Kind::skip;
    FileRole role = FileRole::ignored;  // of a file
    std::string message;                // why a reported entry is not read
};

EntryVerdict judge_entry(const std::string& name, const std::string& rel, const SectionConfig& section, mode_t mode) {
    using Kind = EntryVerdict::Kind;
    if (S_ISLNK(mode)) {
        if (is_ignored_name(name)) return {};
        return {Kind::reported, FileRole::ignored, "symbolic link not followed"};
    }
    if (S_ISDIR(mode)) return {is_ignored_name(name) ? Kind::skip : Kind::folder, FileRole::ignored, {}};
    const FileRole role = classify_path(rel, section);
    if (role == FileRole::ignored || role == FileRole::unhandled) return {};
    // A FIFO named like content would block whoever opens it: never read, but said.
    if (!S_ISREG(mode)) return {Kind::reported, role, file_type_name(file_type_of(mode)) + ", not a regular file: ignored"};
    return {Kind::file, role, {}};
}

Diagnostic entry_warning(std::string shown, std::string message) {
    return {std::move(shown), 0, 0, Severity::warning, std::move(message)};
}

// How diagnostics show the content dir; a file below it is shown as this joined with its path.
std::string shown_root(const SiteConfig& config) {
    const std::string base = config.base_dir.empty() ? fs::current_path().string() : config.base_dir;
    return display_path(base, config.content.dir);
}

}  // namespace

Diagnostics ContentListing::tree_diagnostics() const {
    Diagnostics out = diagnostics;
    for (const auto& [path, diagnostic] : entry_diagnostics) out.push_back(diagnostic);
    return out;
}

ContentListing list_content(const SiteConfig& config, ListingStamps stamps) {
    const fs::path root(config.content.dir);
    const std::string base = config.base_dir.empty() ? fs::current_path().string() : config.base_dir;
    ContentListing out;
    Diagnostics& tree = out.diagnostics;
    const std::string shown_root = almanac::shown_root(config);

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
        // Depth first with a stack of folders rather than recursive_directory_iterator, which keeps
        // every folder on the way open: a deep tree would use up the file descriptors. Each folder
        // carries its path relative to the content dir and as diagnostics show it, so a file's
        // names are joined strings, not path arithmetic, and one lstat gives its type and stamp.
        struct Folder {
            std::string path;
            std::string rel;
            std::string shown;
        };
        std::vector<Folder> pending{{dir.string(), section.name, joined_path(shown_root, section.name)}};
        while (!pending.empty()) {
            const Folder folder = std::move(pending.back());
            pending.pop_back();
            const auto entries = folder_stats(folder.path, ec, stamps == ListingStamps::yes);
            if (ec) {
                if (is_gone(ec)) continue;
                out.unlisted.push_back(folder.rel);
                tree.push_back({folder.shown, 0, 0, Severity::error,
                                "cannot list: " + ec.message() + "; the files below it are not read"});
                continue;
            }
            for (const auto& [name, st] : entries) {
                std::string rel = joined_path(folder.rel, name);
                auto verdict = judge_entry(name, rel, section, st.st_mode);
                switch (verdict.kind) {
                    case EntryVerdict::Kind::skip:
                        break;
                    case EntryVerdict::Kind::folder:
                        pending.push_back({joined_path(folder.path, name), std::move(rel), joined_path(folder.shown, name)});
                        break;
                    case EntryVerdict::Kind::reported:
                        out.entry_diagnostics.emplace(std::move(rel),
                                                      entry_warning(joined_path(folder.shown, name), std::move(verdict.message)));
                        break;
                    case EntryVerdict::Kind::file:
                        out.files.push_back({std::move(rel), joined_path(folder.path, name), joined_path(folder.shown, name),
                                             &section, verdict.role, stamps == ListingStamps::yes ? stamp_of(st) : FileStamp{},
                                             stamps == ListingStamps::no});
                        break;
                }
            }
        }
    }
    std::sort(out.files.begin(), out.files.end(),
              [](const ContentFile& a, const ContentFile& b) { return a.path < b.path; });
    return out;
}

ContentPath examine_content_path(const SiteConfig& config, const std::string& path) {
    using Kind = ContentPath::Kind;
    ContentPath out;
    const auto slash = path.find('/');
    // A top-level entry is a section folder or outside every section: either way, a walk decides.
    if (slash == std::string::npos) {
        out.kind = Kind::folder;
        return out;
    }
    const SectionConfig* section = find_section(config, path.substr(0, slash));
    if (!section) return out;  // outside every section: never listed
    // The section folder itself may be a symlink (list_content follows it); the folders below may
    // not be, nor have ignored names.
    const fs::path root(config.content.dir);
    struct stat st {};
    for (std::size_t begin = slash + 1;;) {
        const auto at = path.find('/', begin);
        const std::string name = path.substr(begin, at == std::string::npos ? std::string::npos : at - begin);
        if (name.empty() || name == "." || name == "..") {  // not a path the watcher makes
            out.kind = Kind::folder;
            return out;
        }
        const fs::path p = root / path.substr(0, at);
        if (::lstat(p.c_str(), &st) != 0) {
            // Gone, or no longer below a folder: nothing there. Anything else (permissions) only a walk can tell.
            if (errno != ENOENT && errno != ENOTDIR) out.kind = Kind::folder;
            return out;
        }
        if (at == std::string::npos) {
            const auto verdict = judge_entry(name, path, *section, st.st_mode);
            const std::string shown = joined_path(shown_root(config), path);
            switch (verdict.kind) {
                case EntryVerdict::Kind::skip:
                    break;
                case EntryVerdict::Kind::folder:
                    out.kind = Kind::folder;
                    break;
                case EntryVerdict::Kind::reported:
                    out.kind = Kind::reported;
                    out.diagnostic = entry_warning(shown, verdict.message);
                    break;
                case EntryVerdict::Kind::file:
                    out.kind = Kind::file;
                    out.file = {path, p.string(), shown, section, verdict.role, stamp_of(st)};
                    break;
            }
            return out;
        }
        // A folder the walk would not enter (ignored name, symlink, not a folder) holds nothing it lists.
        if (is_ignored_name(name) || !S_ISDIR(st.st_mode)) return out;
        begin = at + 1;
    }
}

ParsedSource read_content_file(const ContentFile& file, const SiteConfig& config) {
    bool gone = false;
    const auto bytes = read_file(file.absolute, max_content_file_bytes, false, &gone);
    if (!bytes && gone && file.unstamped) return {};  // removed since its folder was read: nothing to say
    if (!bytes) {
        ParsedSource failed;
        failed.display_path = file.shown;
        failed.diagnostics.push_back({file.shown, 0, 0, Severity::error, bytes.error()});
        return failed;
    }
    return parse_source(SourceFile{file.path, file.shown, *bytes}, *file.section, config);
}

Site load_site(const SiteConfig& config, const std::function<void(std::size_t, std::size_t)>& progress) {
    // Read once: no stamps to compare with later, so no lstat per file.
    auto listing = list_content(config, ListingStamps::no);
    // Files are read and parsed on render_threads() threads, in chunks, each file's items put in
    // shared_ptrs there; the site is assembled in path order (the listing's), so the result does not
    // depend on which thread read what, and the one thread that assembles only links the items.
    const auto& files = listing.files;
    std::vector<SharedSource> results(files.size());
    constexpr std::size_t chunk = 64;
    std::vector<std::function<void()>> tasks;
    std::mutex progress_mutex;
    std::size_t done = 0;
    for (std::size_t begin = 0; begin < files.size(); begin += chunk)
        tasks.emplace_back([&, begin] {
            const std::size_t end = std::min(files.size(), begin + chunk);
            for (std::size_t i = begin; i < end; ++i) {
                ParsedSource parsed = read_content_file(files[i], config);
                SharedSource& shared = results[i];
                shared.display_path = std::move(parsed.display_path);
                shared.diagnostics = std::move(parsed.diagnostics);
                shared.items.reserve(parsed.items.size());
                for (auto& item : parsed.items) shared.items.push_back(std::make_shared<const Item>(std::move(item)));
            }
            const std::lock_guard lock(progress_mutex);
            done += end - begin;
            if (progress) progress(done, files.size());
        });
    run_parallel(tasks, render_threads());
    SharedSources sources;
    sources.reserve(files.size());
    for (std::size_t i = 0; i < files.size(); ++i) sources.emplace_back(files[i].path, &results[i]);
    return assemble_site(config, sources, listing.tree_diagnostics());
}

}  // namespace almanac
