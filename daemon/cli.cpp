#include "daemon/cli.hpp"

#include <algorithm>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <sys/resource.h>

#include "config/config_loader.hpp"
#include "daemon/logging.hpp"
#include "daemon/output_writer.hpp"
#include "daemon/parallel.hpp"
#include "daemon/progress.hpp"
#include "daemon/serve.hpp"
#include "daemon/site_loader.hpp"
#include "feeds/publisher.hpp"

#ifndef ALMANAC_VERSION
#define ALMANAC_VERSION "0.0.0"
#endif

namespace almanac {

namespace {

struct Command {
    const char* name;
    const char* usage;
    const char* summary;
    const char* details;
};

const Command commands[] = {
    {"serve", "almanac serve [--config FILE] [--content DIR] [--listen ADDR:PORT]... [--base-url URL]",
     "build, serve over HTTP, watch the content and rebuild on every change",
     "Builds the site once, then serves every feed (and every time-zone view and filter) over HTTP\n"
     "on each --listen address (default: server.listen from the config, else 127.0.0.1:8080; port 0\n"
     "picks a free port, and the address is logged). Watches the content directory with inotify and\n"
     "swaps in a new snapshot after each change; a file with errors keeps its last good version.\n"
     "--content DIR replaces content.dir. --base-url URL is the address of the feeds and the index\n"
     "page in every link instead of site.base_url, for a local preview (item links, UIDs and feed ids\n"
     "keep site.base_url; in production, set site.base_url instead). Signals: SIGHUP reloads the config (an invalid one is\n"
     "rejected and the running one kept); SIGTERM or SIGINT finish open requests and exit 0.\n"
     "Under systemd: Type=notify, socket activation and the watchdog are supported.\n"
     "Routes: /, /{feed}.{ext}, /tz/Area/Location/{feed}.{ext}, ?tz=, ?tag=, ?kind=, /healthz, /metrics.\n"
     "Exit status: 0 after a clean stop, 1 when it cannot start (invalid config, address in use,\n"
     "no content directory), 2 on a usage error.\n"},
    {"check", "almanac check [--config FILE] [--format text|github|json]",
     "lint the content and the config; exit 1 on any error",
     "Reads the config (FILE, else ./almanac.yaml, else defaults) and every content file, and prints\n"
     "every problem found:\n"
     "  text    path:line:col: severity: message   (default)\n"
     "  github  ::error file=…,line=…,col=…::message (GitHub Actions annotations)\n"
     "  json    a JSON array of {path, line, column, severity, message}\n"
     "A summary goes to standard error. Exit status: 0 when there is no error (warnings allowed),\n"
     "1 when there is at least one error, 2 on a usage error.\n"},
    {"build", "almanac build --out DIR [--config FILE] [--base-url URL]",
     "write every feed, in every format and pre-rendered time zone, and the index page, under DIR",
     "Writes DIR/{feed}.{ics,rss,atom,json} for each feed and format in the config,\n"
     "DIR/tz/Area/Location/{feed}.{ext} for each zone in timezones.prerender, and DIR/index.html:\n"
     "the same bytes that `almanac serve` returns, ready for static hosting or a CDN origin. Each\n"
     "file is replaced atomically; documents are written one at a time. Content problems are\n"
     "printed to standard error as `check` prints them; files with errors are left out. Exit\n"
     "status: 0 written without content errors, 1 written but some content has errors (or the\n"
     "config is invalid, and nothing is written), 2 a usage error.\n"
     "SOURCE_DATE_EPOCH, when set, dates documents that have no dated item. --base-url URL is the\n"
     "address of the feeds and the index page in every link instead of site.base_url, for a preview\n"
     "served from another address (item links, UIDs and feed ids keep site.base_url).\n"},
    {"help", "almanac help [COMMAND]", "show help for almanac or for one command", ""},
};

const Command* find_command(const std::string& name) {
    for (const auto& c : commands)
        if (name == c.name) return &c;
    return nullptr;
}

void print_overview(std::ostream& out) {
    out << "almanac " ALMANAC_VERSION
           " — Markdown events and posts as iCalendar, RSS, Atom and JSON feeds\n\n"
           "Usage: almanac COMMAND [OPTIONS]\n\nCommands:\n";
    for (const auto& c : commands) out << "  " << c.usage << "\n      " << c.summary << "\n";
    out << "\nOptions for every command:\n  --help       show help for the command\n"
           "  --version    print the version and exit\n\n"
           "With no --config, ./almanac.yaml is used when present, else the defaults (content in ./content).\n";
}

// Options of the form --name VALUE or --name=VALUE; `allowed` lists the names that take a value.
struct Options {
    std::map<std::string, std::vector<std::string>> values;  // every value given, in order
    bool help = false;
    bool version = false;
    std::string error;

    bool has(const std::string& name) const { return values.contains(name); }
    // The last value given for `name`, or "".
    std::string value(const std::string& name) const { return has(name) ? values.at(name).back() : std::string(); }
};

Options parse_options(const std::vector<std::string>& args, std::size_t first, const std::set<std::string>& allowed) {
    Options o;
    for (std::size_t i = first; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            o.help = true;
            continue;
        }
        if (a == "--version") {
            o.version = true;
            continue;
        }
        if (!a.starts_with("--")) {
            o.error = "unexpected argument '" + a + "'";
            return o;
        }
        std::string name = a.substr(2);
        std::optional<std::string> value;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (!allowed.contains(name)) {
            o.error = "unknown option '--" + name + "'";
            return o;
        }
        if (!value) {
            if (i + 1 >= args.size()) {
                o.error = "option '--" + name + "' needs a value";
                return o;
            }
            value = args[++i];
        }
        o.values[name].push_back(*value);
    }
    return o;
}

int usage_error(std::ostream& err, const Command& c, const std::string& message) {
    err << "almanac " << c.name << ": " << message << "\nusage: " << c.usage << "\n";
    return 2;
}

// Parses a command's options; when the command should not run (--help, a usage error) returns its exit status.
std::optional<int> prepare(const Command& cmd, const std::vector<std::string>& args, const std::set<std::string>& allowed,
                           Options& opts, std::ostream& out, std::ostream& err) {
    opts = parse_options(args, 2, allowed);
    if (!opts.error.empty()) return usage_error(err, cmd, opts.error);
    if (opts.help) {
        out << "usage: " << cmd.usage << "\n\n"
            << cmd.summary << "\n\n"
            << cmd.details;
        return 0;
    }
    if (opts.version) {
        out << "almanac " ALMANAC_VERSION "\n";
        return 0;
    }
    return std::nullopt;
}

// `site`, shared, and kept in `leftovers` (when given) for the process's exit to drop.
std::shared_ptr<const Site> kept_site(Site site, CliLeftovers* leftovers) {
    auto shared = std::make_shared<const Site>(std::move(site));
    if (leftovers) leftovers->kept.push_back(shared);
    return shared;
}

int run_check(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, CliLeftovers* leftovers) {
    const Command& cmd = *find_command("check");
    Options opts;
    if (const auto status = prepare(cmd, args, {"config", "format"}, opts, out, err)) return *status;
    const std::string format = opts.has("format") ? opts.value("format") : "text";
    if (format != "text" && format != "github" && format != "json")
        return usage_error(err, cmd, "unknown format '" + format + "' (text, github or json)");

    const auto loaded = load_config(opts.value("config"));
    Diagnostics all = loaded.diagnostics;
    std::size_t files = 0;
    std::size_t items = 0;
    if (loaded.config) {
        const auto loaded_site = kept_site(load_site(*loaded.config), leftovers);
        const Site& site = *loaded_site;
        all.insert(all.end(), site.diagnostics.begin(), site.diagnostics.end());
        items = site.items.size();
        std::set<std::string> paths;
        for (const auto& i : site.items) paths.insert(i.path);
        files = paths.size();
    }
    if (format == "json") {
        out << format_json(all) << "\n";
    } else {
        for (const auto& d : all) out << (format == "github" ? format_github(d) : format_text(d)) << "\n";
    }
    std::size_t errors = 0;
    for (const auto& d : all) errors += d.severity == Severity::error;
    err << "almanac check: " << errors << " error(s), " << all.size() - errors << " warning(s); " << items
        << " item(s) from " << files << " file(s)\n";
    return errors > 0 ? 1 : 0;
}

// --base-url URL into `overrides`; a usage error (its exit status) when URL is not a base URL.
std::optional<int> read_base_url(const Command& cmd, const Options& opts, ConfigOverrides& overrides,
                                 std::ostream& err) {
    if (!opts.has("base-url")) return std::nullopt;
    std::string url = opts.value("base-url");
    if (const auto problem = base_url_problem(url)) return usage_error(err, cmd, "--base-url: " + *problem);
    if (!url.ends_with('/')) url += '/';
    overrides.base_url = std::move(url);
    return std::nullopt;
}

// A build task holds every document of a feed's views open while it renders them: formats × zones,
// over a thousand with 8 threads and 42 pre-rendered zones, where shells often start at 1024 open
// files. The soft limit is raised as far as the hard one allows (at most 65536).
void raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? 65536 : std::min<rlim_t>(limit.rlim_max, 65536);
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        limit.rlim_cur = wanted;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int run_build(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, CliLeftovers* leftovers) {
    const Command& cmd = *find_command("build");
    Options opts;
    if (const auto status = prepare(cmd, args, {"config", "out", "base-url"}, opts, out, err)) return *status;
    if (!opts.has("out")) return usage_error(err, cmd, "--out DIR is required");
    ConfigOverrides overrides;
    if (const auto status = read_base_url(cmd, opts, overrides, err)) return *status;
    const auto loaded = load_config(opts.value("config"), overrides);
    for (const auto& d : loaded.diagnostics) err << format_text(d) << "\n";
    if (!loaded.config) return 1;
    configure_logging(loaded.config->log);
    ProgressLog reading("almanac build: reading content files");
    const auto loaded_site = kept_site(load_site(*loaded.config, reading.callback()), leftovers);
    const Site& site = *loaded_site;
    for (const auto& d : site.diagnostics) err << format_text(d) << "\n";
    std::string epoch_problem;
    const PublishOptions options{std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()),
                                 source_date_epoch_from_env(epoch_problem)};
    if (!epoch_problem.empty()) err << "almanac build: warning: " << epoch_problem << "\n";
    raise_open_file_limit();
    // Each document is written as it is rendered, by publish_site's tasks on render_threads()
    // threads: a big site's output never has to fit in memory, nor even one of its feeds.
    OutputDirectory dir(opts.value("out"));
    std::size_t written = 0, unchanged = 0;
    std::string problem;
    std::mutex mutex;
    // A DocumentFile that counts itself when closed; after the first problem, nothing is written.
    class CountedFile final : public DocumentOutput {
    public:
        CountedFile(OutputDirectory& dir, const std::string& path, std::size_t& written, std::size_t& unchanged,
                    std::string& problem, std::mutex& mutex)
            : written_(written), unchanged_(unchanged), problem_(problem), mutex_(mutex) {
            const std::lock_guard lock(mutex_);
            if (problem_.empty()) file_.emplace(dir, path);
        }
        void write(std::string_view bytes) override {
            if (file_) file_->write(bytes);
        }
        void close() override {
            if (!file_) return;
            file_->close();
            const std::lock_guard lock(mutex_);
            if (problem_.empty()) problem_ = file_->problem();
            ++(file_->written() ? written_ : unchanged_);
        }

    private:
        std::optional<DocumentFile> file_;
        std::size_t& written_;
        std::size_t& unchanged_;
        std::string& problem_;
        std::mutex& mutex_;
    };
    ProgressLog writing("almanac build: feeds selected");
    PublishControl control;
    control.progress = writing.callback();
    control.events = true;
    const unsigned threads = render_threads();
    control.run = [threads](std::vector<std::function<void()>>& tasks) { run_parallel(tasks, threads); };
    control.open = [&](const std::string& path) {
        return std::make_unique<CountedFile>(dir, path, written, unchanged, problem, mutex);
    };
    publish_site(site, options, {}, control);
    if (!problem.empty()) {
        err << "almanac build: " << problem << "\n";
        return 1;
    }
    err << "almanac build: wrote " << written << " document(s), " << unchanged << " unchanged, for "
        << site.config.feeds.size() << " feed(s) to " << dir.root() << "\n";
    return has_errors(site.diagnostics) ? 1 : 0;
}

int run_serve_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    const Command& cmd = *find_command("serve");
    Options opts;
    if (const auto status = prepare(cmd, args, {"config", "content", "listen", "base-url"}, opts, out, err))
        return *status;
    ServeOptions options;
    options.config_path = opts.value("config");
    if (const auto status = read_base_url(cmd, opts, options.overrides, err)) return *status;
    if (opts.has("content")) options.overrides.content_dir = opts.value("content");
    if (opts.has("listen")) {
        for (const auto& address : opts.values.at("listen"))
            // Port 0 (any free port, logged at start) is for tests and tools, so only the command line takes it.
            if (const auto problem = listen_address_problem(
                    address.ends_with(":0") ? address.substr(0, address.size() - 1) + "1" : address))
                return usage_error(err, cmd, "--listen " + address + ": " + *problem);
        options.overrides.listen = opts.values.at("listen");
    }
    return run_serve(options);
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, CliLeftovers* leftovers) {
    if (args.size() < 2) {
        print_overview(err);
        return 2;
    }
    const std::string& command = args[1];
    if (command == "--version" || command == "version") {
        out << "almanac " ALMANAC_VERSION "\n";
        return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
        if (args.size() > 2) {
            const Command* c = find_command(args[2]);
            if (!c) {
                err << "almanac help: unknown command '" << args[2] << "'\n";
                return 2;
            }
            out << "usage: " << c->usage << "\n\n"
                << c->summary << "\n\n"
                << c->details;
            return 0;
        }
        print_overview(out);
        return 0;
    }
    try {
        if (command == "serve") return run_serve_command(args, out, err);
        if (command == "check") return run_check(args, out, err, leftovers);
        if (command == "build") return run_build(args, out, err, leftovers);
    } catch (const std::exception& e) {
        err << "almanac " << command << ": " << e.what() << "\n";
        return 1;
    }
    err << "almanac: unknown command '" << command << "'\nusage: almanac COMMAND [OPTIONS]  (see almanac help)\n";
    return 2;
}

}  // namespace almanac
