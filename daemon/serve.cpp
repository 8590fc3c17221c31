#include "daemon/serve.hpp"

#include <malloc.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "daemon/content_state.hpp"
#include "daemon/parallel.hpp"
#include "daemon/http_server.hpp"
#include "daemon/logging.hpp"
#include "daemon/metrics.hpp"
#include "daemon/output_writer.hpp"
#include "daemon/progress.hpp"
#include "daemon/request_handler.hpp"
#include "daemon/snapshot.hpp"
#include "daemon/watcher.hpp"

namespace almanac {

namespace {

// glibc gives each thread that allocates an arena of its own, up to 8 per CPU. The daemon's render
// tasks, encoder and I/O threads each left freed memory in theirs: on the 10,000-event site the
// resident size settled ~20 MB higher after the first edits with the default than with one arena per
// CPU the process may use. An operator's MALLOC_ARENA_MAX still decides.
void limit_malloc_arenas() {
    if (const char* set = std::getenv("MALLOC_ARENA_MAX"); set && *set) return;
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, render_threads())));
}

// CPU time this process has used, all threads, in ms: a rebuild's cost where wall time depends on
// what else the machine runs.
double process_cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Edits arrive in bursts (an editor's temp file and rename, a git checkout): wait this long after
// the last event, and never longer than the cap after the first.
constexpr milliseconds watch_debounce{20};
constexpr milliseconds watch_max_delay{500};
// The index page lists upcoming events: refresh it at least this often without any change.
constexpr std::chrono::hours max_time_between_rebuilds{1};
constexpr milliseconds drain_deadline{10'000};

// The threads that serve HTTP connections, each with its own io_context: the CPUs this process may use,
// at least two, so that a view rendered on demand holds up only the connections of its own thread, and
// at most eight.
unsigned io_threads() {
    cpu_set_t set;
    const int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                                 : static_cast<int>(std::thread::hardware_concurrency());
    return static_cast<unsigned>(std::clamp(cpus, 2, 8));
}

Instant now_seconds() { return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()); }

std::string list_paths(const std::vector<std::string>& paths) {
    std::string out;
    const std::size_t shown = std::min<std::size_t>(paths.size(), 5);
    for (std::size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + paths[i];
    if (paths.size() > shown) out += " (+" + std::to_string(paths.size() - shown) + " more)";
    return out;
}

// The log level is the severity, so the line says it once: "warning: blog/a.md:3:1: message".
void log_diagnostic(const Diagnostic& d) {
    if (d.severity == Severity::error) spdlog::error("{}: {}", format_place(d), d.message);
    else spdlog::warn("{}: {}", format_place(d), d.message);
}

class Daemon {
public:
    Daemon(ServeOptions options, SiteConfig config)
        : options_(std::move(options)),
          config_(std::move(config)),
          strand_(asio::make_strand(ioc_)),
          time_timer_(strand_),
          watchdog_timer_(strand_),
          signals_(strand_, SIGHUP, SIGTERM, SIGINT) {}

    ~Daemon() {
        stop_worker();
        if (worker_.joinable()) worker_.join();
        if (encoder_.joinable()) encoder_.join();
    }

    int run() {
        std::string epoch_problem;
        source_date_epoch_ = source_date_epoch_from_env(epoch_problem);
        if (!epoch_problem.empty()) spdlog::warn("{}", epoch_problem);

        // Watching starts before the first scan, so an edit made while it runs is not missed.
        start_watcher(config_.content.dir);
        content_ = std::make_unique<ContentState>(config_);
        rebuild({Job(ChangeSet(), "start", false)});
        if (!current()) return 1;

        // The main thread runs ioc_ (accepting too); each I/O thread runs the connections of its own context.
        std::vector<std::reference_wrapper<asio::io_context>> contexts;
        for (unsigned i = 0, n = io_threads(); i < n; ++i) {
            auto& context = *io_.emplace_back(std::make_unique<asio::io_context>(1));
            io_work_.push_back(asio::make_work_guard(context));
            contexts.emplace_back(context);
        }
        server_ = std::make_unique<HttpServer>(
            ioc_, contexts, config_.server.limits,
            [this](const Request& request) { return handle_request(*current(), request, metrics_); },
            [this](const std::string& route, unsigned status) { metrics_.count_request(route, status); },
            config_.server.access_log);
        metrics_.set_connections_source([server = server_.get()] { return server->open_connections(); });
        try {
            const int passed = sd_listen_fds(1);
            if (passed > 0) {
                socket_activated_ = true;
                for (int i = 0; i < passed; ++i)
                    spdlog::info("serving on {} (socket from systemd)", server_->adopt(SD_LISTEN_FDS_START + i));
            } else {
                for (const auto& address : config_.server.listen)
                    spdlog::info("listening on http://{}/", server_->listen(address));
            }
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 1;
        }

        wait_for_signal();
        start_watchdog();
        worker_ = std::thread([this] { worker_loop(); });
        encoder_ = std::thread([this] { encoder_loop(); });
        encode(current());
        notify("READY=1\nSTATUS=" + status_line(*current()));

        std::vector<std::thread> threads;
        for (auto& context : io_) threads.emplace_back([this, &context] { run_io(*context); });
        run_io(ioc_);
        for (auto& thread : threads) thread.join();
        stop_worker();
        worker_.join();
        encoder_.join();
        spdlog::info("stopped");
        return 0;
    }

private:
    struct Job {
        ChangeSet changes;
        std::string reason;  // start, change, time, reload
        bool reload = false;

        Job(ChangeSet c, std::string r, bool reload_config)
            : changes(std::move(c)), reason(std::move(r)), reload(reload_config) {}
    };

    void run_io(asio::io_context& context) {
        for (;;) {
            try {
                context.run();
                return;
            } catch (const std::exception& e) {
                spdlog::error("event loop: {}", e.what());
            }
        }
    }

    // Every request takes it: an atomic load, no lock shared by the I/O threads.
    std::shared_ptr<const Snapshot> current() const { return snapshot_.load(std::memory_order_acquire); }

    // Stops every event loop.
    void stop_io() {
        ioc_.stop();
        for (auto& context : io_) context->stop();
    }

    void notify(const std::string& state) { sd_notify(0, state.c_str()); }

    static std::string status_line(const Snapshot& s) {
        std::size_t errors = 0;
        for (const auto& d : s.site->diagnostics) errors += d.severity == Severity::error;
        return "generation " + std::to_string(s.generation) + ": " + std::to_string(s.site->items.size()) +
               " items, " + std::to_string(errors) + " content errors";
    }

    void enqueue(Job job) {
        {
            std::lock_guard lock(queue_mutex_);
            if (stopping_) return;
            queue_.push_back(std::move(job));
        }
        queue_cv_.notify_one();
    }

    void stop_worker() {
        {
            std::lock_guard lock(queue_mutex_);
            stopping_ = true;
        }
        queue_cv_.notify_one();
        {
            std::lock_guard lock(encode_mutex_);
            encode_stopping_ = true;
        }
        encode_cv_.notify_one();
    }

    void worker_loop() {
        for (;;) {
            std::vector<Job> jobs;
            {
                std::unique_lock lock(queue_mutex_);
                queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                if (stopping_) return;
                jobs.swap(queue_);
            }
            rebuild(jobs);
        }
    }

    // Runs on the worker thread (and once on the main thread before serving starts).
    void rebuild(const std::vector<Job>& jobs) {
        const auto started = std::chrono::steady_clock::now();
        const double cpu_started = process_cpu_ms();
        std::string reason = "time";
        bool reload = false;
        bool rescan = false;  // the watcher lost events (queue overflow, polling): stamps are not enough
        // Only the watcher's paths changed unless a folder did, events were lost, or the job is not the
        // watcher's: an hourly "time" rebuild lists the tree too, so nothing missed stays missed.
        bool walk = false;
        std::set<std::string> hints;
        for (const auto& job : jobs) {
            reload |= job.reload;
            rescan |= job.changes.rescan;
            walk |= job.changes.rescan || job.changes.folders || job.reason != "change";
            hints.insert(job.changes.paths.begin(), job.changes.paths.end());
            if (job.reason == "start" || job.reason == "reload" || (job.reason == "change" && reason == "time"))
                reason = job.reason;
        }
        if (reload) reason = "reload";
        try {
            auto previous = current();
            if (reload && !reload_config()) {
                if (hints.empty()) return encode(current());
            } else if (reload) {
                previous = nullptr;
            }
            ProgressLog reading("reading content files");
            if (!reload && redetect_sections()) previous = nullptr;
            const auto refresh = walk ? content_->refresh(hints, reading.callback(), rescan)
                                      : content_->refresh_paths(hints, reading.callback());
            if (reason == "change" && !refresh.changed()) {
                spdlog::debug("no content change ({} path(s) reported)", hints.size());
                encode(current());
                return;
            }
            const auto read_done = std::chrono::steady_clock::now();
            auto site = std::make_shared<const Site>(content_->site());
            const auto site_done = std::chrono::steady_clock::now();
            // Rendered entries hold the configuration's values: a new configuration starts afresh.
            if (!previous) fragments_ = FragmentStore{};
            SnapshotInput input;
            input.site = site;
            input.options = PublishOptions{now_seconds(), source_date_epoch_};
            input.generation = ++generation_;
            input.version = [this](const std::string& path) { return content_->version(path); };
            input.previous = previous;
            // Only a rebuild for the watcher's paths patches the previous selections: the hourly one,
            // like any other, selects afresh, so that nothing next_visibility_change might miss lasts.
            if (!walk && previous && previous->generation == selections_generation_)
                input.previous_selections_until = selections_until_;
            input.live = current();
            ProgressLog rendering("rendering feeds");
            input.progress = rendering.callback();
            input.fragments = &fragments_;
            input.occurrences = &occurrences_;
            input.run = [threads = render_threads_](std::vector<std::function<void()>>& tasks) { run_parallel(tasks, threads); };
            auto snapshot = build_snapshot(input);
            const auto render_done = std::chrono::steady_clock::now();
            snapshot_.store(snapshot, std::memory_order_release);
            // The caches' sweep is for the next rebuild: it runs once this one is served (a sweep that
            // walks every entry took up to 90 ms on the 10k site when the caches came due together).
            spdlog::debug("rendered entries: {} reused, {} rendered, {} kept; {} document(s) patched", fragments_.hits(),
                          fragments_.misses(), fragments_.size(), fragments_.patched());
            fragments_.sweep();
            occurrences_.sweep();
            const auto ms = [](auto from, auto to) { return std::chrono::duration<double, std::milli>(to - from).count(); };
            spdlog::debug(
                "rebuild phases: list and read {:.1f} ms, site {:.1f} ms, render {:.1f} ms, sweep {:.1f} ms "
                "({} the tree, {} file(s) read); process CPU {:.1f} ms",
                ms(started, read_done), ms(read_done, site_done), ms(site_done, render_done),
                ms(render_done, std::chrono::steady_clock::now()), refresh.walked ? "listed" : "not listing",
                refresh.read.size(), process_cpu_ms() - cpu_started);
            log_new_diagnostics(previous ? previous->site->diagnostics : Diagnostics{}, site->diagnostics);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            metrics_.record_rebuild(reason, true, seconds);
            std::string what;
            if (!refresh.read.empty()) what += "; read " + list_paths(refresh.read);
            if (!refresh.removed.empty()) what += "; removed " + list_paths(refresh.removed);
            spdlog::info("generation {} ({}{}): {} items, {} documents, {} feed(s) rendered, {} reused, {:.1f} ms",
                         snapshot->generation, reason, what, site->items.size(), snapshot->documents.size(),
                         snapshot->feeds_rendered, snapshot->feeds_reused, seconds * 1000);
            if (reason != "start") notify("STATUS=" + status_line(*snapshot));
            // Until the next visibility change, the next rebuild may patch this one's selections.
            const auto change = schedule_time_rebuild(*site, input.options.now);
            selections_generation_ = snapshot->generation;
            selections_until_ = std::min(change.value_or(Instant::max()), input.options.now + max_time_between_rebuilds);
            if (reason != "start") encode(snapshot);
        } catch (const std::exception& e) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            metrics_.record_rebuild(reason, false, seconds);
            spdlog::error("rebuild ({}) failed, still serving generation {}: {}", reason, generation_, e.what());
            // Time-triggered rebuilds must not stop with it: try again in a minute.
            arm_time_rebuild(std::chrono::minutes(1));
        }
    }

    // Compression comes after the swap, so an edit is served without waiting for it; the encoded
    // copy has the same bytes and tags. It runs on its own thread, so a rebuild never waits for
    // it; a newer snapshot makes it stop between documents and start on
    // that one, which reuses the encodings of every feed the change left alone.
    void encode(const std::shared_ptr<const Snapshot>& snapshot) {
        if (!snapshot || is_encoded(*snapshot)) return;
        {
            std::lock_guard lock(encode_mutex_);
            encode_next_ = snapshot;
        }
        encode_cv_.notify_one();
    }

    void encoder_loop() {
        for (;;) {
            std::shared_ptr<const Snapshot> snapshot;
            {
                std::unique_lock lock(encode_mutex_);
                encode_cv_.wait(lock, [&] { return encode_stopping_ || encode_next_; });
                if (encode_stopping_) return;
                snapshot = std::move(encode_next_);
            }
            const auto newer = [this] {
                std::lock_guard lock(encode_mutex_);
                return encode_stopping_ || encode_next_ != nullptr;
            };
            const auto started = std::chrono::steady_clock::now();
            // First gzip everywhere and brotli for the documents up to 1 MiB; large documents' brotli
            // only once no edit has come for brotli_quiet_time (see encode_snapshot).
            auto encoded = encode_snapshot(*snapshot, newer, &gzip_chunks_, true);
            // Chunks of documents this snapshot no longer holds go; an interrupted pass keeps the
            // chunks it reached, and the next pass finds the rest unused only if they are.
            if (is_gzip_encoded(*encoded)) gzip_chunks_.sweep();
            if (!swap_encoded(snapshot, encoded)) continue;
            spdlog::debug("generation {} compressed in {:.1f} ms", snapshot->generation,
                          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
            if (is_encoded(*encoded)) continue;
            {
                std::unique_lock lock(encode_mutex_);
                if (encode_cv_.wait_for(lock, brotli_quiet_time, [&] { return encode_stopping_ || encode_next_; }))
                    continue;
            }
            const auto quiet = std::chrono::steady_clock::now();
            auto complete = encode_snapshot(*encoded, newer, &gzip_chunks_, false);
            if (swap_encoded(encoded, complete))
                spdlog::debug("generation {}: brotli of its large documents in {:.1f} ms", snapshot->generation,
                              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - quiet).count());
        }
    }

    // Serves `replacement` in place of `expected` if `expected` is still the live snapshot.
    bool swap_encoded(std::shared_ptr<const Snapshot> expected, std::shared_ptr<const Snapshot> replacement) {
        return snapshot_.compare_exchange_strong(expected, std::move(replacement), std::memory_order_acq_rel);
    }

    // Sections detected from folder names (no content.sections in the config) follow the folders: a
    // top-level folder added or removed changes the sections and their feeds. True when they changed.
    bool redetect_sections() {
        if (config_.content.sections_given) return false;
        SiteConfig next = config_;
        complete_config(next, content_folders(next.content.dir));
        const auto names = [](const SiteConfig& c) {
            std::vector<std::string> out;
            for (const auto& s : c.content.sections) out.push_back(s.name);
            return out;
        };
        if (names(next) == names(config_)) return false;
        spdlog::info("content folders changed: sections are now {}", fmt::join(names(next), ", "));
        config_ = next;
        content_ = std::make_unique<ContentState>(std::move(next));
        return true;
    }

    // Loads the config again; on success replaces the content state. False keeps the old config.
    bool reload_config() {
        notify("RELOADING=1");
        auto loaded = load_config(options_.config_path, options_.overrides);
        for (const auto& d : loaded.diagnostics) log_diagnostic(d);
        if (!loaded.config) {
            metrics_.count_rejected_reload();
            spdlog::error("config reload rejected: {} is invalid; keeping the running config",
                          config_.path.empty() ? "the config" : config_.path);
            notify("READY=1");
            return false;
        }
        SiteConfig next = std::move(*loaded.config);
        if (next.server.listen != config_.server.listen)
            spdlog::warn(socket_activated_ ? "server.listen changed: ignored, the sockets come from systemd (ListenStream=)"
                                           : "server.listen changed: the new addresses take effect at the next restart");
        const bool moved = next.content.dir != config_.content.dir;
        configure_logging(next.log);
        config_ = next;
        content_ = std::make_unique<ContentState>(std::move(next));
        asio::post(strand_, [this, limits = config_.server.limits, dir = moved ? config_.content.dir : std::string()] {
            if (server_) server_->set_limits(limits);
            if (!dir.empty()) start_watcher(dir);
        });
        spdlog::info("config reloaded from {}", config_.path.empty() ? "the defaults" : config_.path);
        notify("READY=1");
        return true;
    }

    void log_new_diagnostics(const Diagnostics& before, const Diagnostics& after) {
        for (const auto& d : after)
            if (std::find(before.begin(), before.end(), d) == before.end()) log_diagnostic(d);
    }

    // Wakes the worker when an item's publishDate/expiryDate or a feed window boundary passes.
    // Returns next_visibility_change(site, now).
    std::optional<Instant> schedule_time_rebuild(const Site& site, Instant now) {
        auto next = now + max_time_between_rebuilds;
        const auto change = next_visibility_change(site, now);
        if (change && *change < next) next = *change;
        arm_time_rebuild(std::max<std::chrono::system_clock::duration>(next - std::chrono::system_clock::now(),
                                                                       std::chrono::seconds(1)));
        return change;
    }

    // A "time" rebuild after `wait`, replacing the one pending (from any thread: the timer lives on the strand).
    void arm_time_rebuild(std::chrono::steady_clock::duration wait) {
        asio::post(strand_, [this, wait] {
            time_timer_.expires_after(wait);
            time_timer_.async_wait([this](const boost::system::error_code& ec) {
                if (!ec) enqueue(Job(ChangeSet(), "time", false));
            });
        });
    }

    // Runs on the io_context (or before it runs).
    void start_watcher(const std::string& dir) {
        if (watcher_) watcher_->stop();
        watcher_ = std::make_unique<Watcher>(ioc_, dir, watch_debounce, watch_max_delay,
                                             [this](ChangeSet changes) {
                                                 enqueue(Job(std::move(changes), "change", false));
                                             });
        watcher_->start();
        spdlog::info("watching {} ({})", dir,
                     watcher_->polling() ? "polling" : std::to_string(watcher_->watch_count()) + " inotify watches");
    }

    void wait_for_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (signal == SIGHUP) {
                spdlog::info("SIGHUP: reloading the config");
                enqueue(Job(ChangeSet(), "reload", true));
                wait_for_signal();
                return;
            }
            if (draining_) {
                spdlog::warn("second signal: stopping now");
                stop_io();
                return;
            }
            draining_ = true;
            spdlog::info("{}: finishing open requests and stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
            notify("STOPPING=1");
            stop_worker();
            if (watcher_) watcher_->stop();
            time_timer_.cancel();
            watchdog_timer_.cancel();
            server_->drain(drain_deadline, [this] {
                signals_.cancel();
                stop_io();
            });
            wait_for_signal();
        });
    }

    // WATCHDOG=1 from the event loop itself, at half the interval systemd asks for.
    void start_watchdog() {
        std::uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
        watchdog_period_ = std::chrono::microseconds(usec / 2);
        arm_watchdog();
    }

    void arm_watchdog() {
        watchdog_timer_.expires_after(watchdog_period_);
        watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            notify("WATCHDOG=1");
            arm_watchdog();
        });
    }

    ServeOptions options_;
    SiteConfig config_;  // the running config; written only by the worker (and before it starts)
    std::optional<Instant> source_date_epoch_;
    // Run by the main thread: the daemon's strand, the watcher, the listening sockets.
    asio::io_context ioc_{1};
    std::vector<std::unique_ptr<asio::io_context>> io_;                                // one per I/O thread: the connections
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> io_work_;  // keeps them running
    // The daemon's own timers, signals and watcher swaps run here, one at a time.
    asio::strand<asio::io_context::executor_type> strand_;
    asio::steady_timer time_timer_;
    asio::steady_timer watchdog_timer_;
    std::chrono::microseconds watchdog_period_{0};
    asio::signal_set signals_;
    bool draining_ = false;
    bool socket_activated_ = false;
    Metrics metrics_;
    std::unique_ptr<HttpServer> server_;
    std::unique_ptr<Watcher> watcher_;
    std::unique_ptr<ContentState> content_;  // used only by the worker
    FragmentStore fragments_;                // used only by the worker
    // The generation whose selections the next rebuild may patch, and until when (SnapshotInput::
    // previous_selections_until); used only by the worker.
    std::uint64_t selections_generation_ = 0;
    Instant selections_until_ = Instant::min();
    OccurrenceMemo occurrences_;  // the index page's recurring events, used only by the worker
    unsigned render_threads_ = render_threads();

    std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
    std::uint64_t generation_ = 0;

    std::mutex queue_mutex_;
    std::condition_variable queue_cv_;
    std::vector<Job> queue_;
    bool stopping_ = false;
    std::thread worker_;

    std::mutex encode_mutex_;
    std::condition_variable encode_cv_;
    std::shared_ptr<const Snapshot> encode_next_;  // the snapshot the encoder should compress next
    GzipChunks gzip_chunks_;                       // the encoder's own: large documents' compressed chunks
    // How long the content must stay unchanged before large documents get their brotli encoding.
    static constexpr auto brotli_quiet_time = std::chrono::seconds(2);
    bool encode_stopping_ = false;
    std::thread encoder_;
};

}  // namespace

int run_serve(const ServeOptions& options) {
    limit_malloc_arenas();
    const auto loaded = load_config(options.config_path, options.overrides);
    LogConfig log = loaded.config ? loaded.config->log : LogConfig{};
    configure_logging(log);
    for (const auto& d : loaded.diagnostics) log_diagnostic(d);
    if (!loaded.config) {
        spdlog::error("cannot start: the config has errors");
        return 1;
    }
    Daemon daemon(options, *loaded.config);
    return daemon.run();
}

}  // namespace almanac
