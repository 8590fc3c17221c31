// HttpServer on Beast: acceptors on the owner's io_context, connections spread over one io_context per
// I/O thread (so a connection's handlers need no strand and wake no other thread), a sequential read → handle → write loop per connection (so
// pipelined requests are answered in order), the limits of SPEC §5, and drain.
// Response bodies are written straight from the handler's shared string, never copied.
#include "daemon/http_server.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "feeds/byte_runs.hpp"

#ifndef ALMANAC_VERSION
#define ALMANAC_VERSION "0.0.0"
#endif

namespace almanac {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// GET and HEAD carry no body; a small one is read and dropped so the connection stays usable.
constexpr std::uint64_t body_limit = std::uint64_t{64} * 1024;
constexpr std::size_t read_chunk = 4096;
// How long a closing connection keeps reading what the client still sends, so that closing with
// unread data (which makes the kernel send a reset) does not destroy the error response in flight.
constexpr auto linger_time = std::chrono::seconds(2);
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
// File descriptors connections never take: the rest of the daemon needs them to read content files
// and folders, zone files and inotify events, and to hold the documents' sealed files. Without them
// a connection flood makes rebuilds fail.
constexpr rlim_t reserved_descriptors = 64 + SealedFile::max_files;
// Refused or dropped connections are logged at most this often: a flood must not flood the log.
constexpr auto overload_log_interval = std::chrono::seconds(10);

// A request body that is counted against body_limit by the parser and then dropped.
struct DiscardBody {
    struct value_type {};

    class reader {
    public:
        template <bool is_request, class Fields>
        reader(http::header<is_request, Fields>&, value_type&) {}
        void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }
        template <class Buffers>
        std::size_t put(const Buffers& buffers, beast::error_code& ec) {
            ec = {};
            return net::buffer_size(buffers);
        }
        void finish(beast::error_code& ec) { ec = {}; }
    };
};

// Memory for one request's header fields. Beast's parser allocates every field on its own, and a
// browser or calendar client sends ten or more: a request's fields are handed out in order from one
// block instead, taken back whole when the next request's parser replaces the last one. The block
// comes from its I/O thread's free list while the request is read and answered, and goes back to it
// when the connection waits for its next request: an idle keep-alive connection holds none, and a
// busy thread reuses the same few. A request whose fields do not fit takes more from the heap, for
// that request only.
class FieldArena {
public:
    FieldArena() = default;
    FieldArena(const FieldArena&) = delete;
    FieldArena& operator=(const FieldArena&) = delete;
    ~FieldArena() { reset(); }

    void* allocate(std::size_t bytes, std::size_t align) {
        if (!block_) block_ = take_block();
        void* p = block_.get() + used_;
        std::size_t space = block_bytes - used_;
        if (std::align(align, bytes, p, space)) {
            used_ = static_cast<std::size_t>(static_cast<std::byte*>(p) - block_.get()) + bytes;
            return p;
        }
        const std::size_t size = bytes + align;
        spill_.push_back(std::make_unique_for_overwrite<std::byte[]>(size));
        void* q = spill_.back().get();
        std::size_t room = size;
        return std::align(align, bytes, q, room);
    }
    // Only when nothing allocated here is in use.
    void reset() {
        used_ = 0;
        spill_.clear();
        if (block_) give_block(std::move(block_));
    }

private:
    static constexpr std::size_t block_bytes = 4096;
    static constexpr std::size_t kept_blocks = 64;  // per thread: the requests it has in flight at once

    using Block = std::unique_ptr<std::byte[]>;
    // A connection stays on its I/O thread, so each thread's list needs no lock.
    static std::vector<Block>& free_blocks() {
        thread_local std::vector<Block> blocks;
        return blocks;
    }
    static Block take_block() {
        auto& blocks = free_blocks();
        if (blocks.empty()) return std::make_unique_for_overwrite<std::byte[]>(block_bytes);
        Block b = std::move(blocks.back());
        blocks.pop_back();
        return b;
    }
    static void give_block(Block b) {
        auto& blocks = free_blocks();
        if (blocks.size() < kept_blocks) blocks.push_back(std::move(b));
    }

    Block block_;
    std::size_t used_ = 0;
    std::vector<Block> spill_;
};

// An allocator for Beast's fields from a connection's FieldArena; deallocation is the arena's reset.
// Without an arena (a default-constructed one) it is the heap's.
template <class T>
class ArenaAllocator {
public:
    using value_type = T;
    ArenaAllocator() = default;
    explicit ArenaAllocator(FieldArena* arena) : arena_(arena) {}
    template <class U>
    ArenaAllocator(const ArenaAllocator<U>& other) : arena_(other.arena()) {}  // NOLINT(google-explicit-constructor)
    T* allocate(std::size_t n) {
        if (!arena_) return std::allocator<T>().allocate(n);
        return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T)));
    }
    void deallocate(T* p, std::size_t n) {
        if (!arena_) std::allocator<T>().deallocate(p, n);
    }
    FieldArena* arena() const { return arena_; }
    template <class U>
    bool operator==(const ArenaAllocator<U>& other) const {
        return arena_ == other.arena();
    }

private:
    FieldArena* arena_ = nullptr;
};

using WireFields = http::basic_fields<ArenaAllocator<char>>;
using WireRequest = http::request<DiscardBody, WireFields>;
using WireParser = http::request_parser<DiscardBody, ArenaAllocator<char>>;

// Returns the current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 §5.6.7),
// formatted once a second on each thread.
std::string_view http_date() {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct Formatted {
        std::time_t second = -1;
        char text[32] = {};
        std::size_t size = 0;
    };
    thread_local Formatted cached;
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    if (now != cached.second) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        const auto end = fmt::format_to_n(cached.text, sizeof cached.text, "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
                                          days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                                          tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached.size = std::min(end.size, sizeof cached.text);
        cached.second = now;
    }
    return {cached.text, cached.size};
}

// The buffers of one response as a ConstBufferSequence that asio copies as two pointers: given a
// std::vector, async_write copies the vector into its operation, an allocation per response.
class BufferSpan {
public:
    explicit BufferSpan(const std::vector<net::const_buffer>& buffers)
        : begin_(buffers.data()), end_(buffers.data() + buffers.size()) {}
    using value_type = net::const_buffer;
    using const_iterator = const net::const_buffer*;
    const_iterator begin() const { return begin_; }
    const_iterator end() const { return end_; }

private:
    const net::const_buffer* begin_;
    const net::const_buffer* end_;
};

// A completion condition for net::async_write that, unlike net::transfer_all(), offers every unsent
// byte to each send: transfer_all() hands the kernel at most 64 KB a call, four calls for a 200 KB feed.
std::size_t transfer_all_at_once(const beast::error_code& ec, std::size_t) {
    return ec ? 0 : std::numeric_limits<std::size_t>::max();
}

void append_number(std::string& out, std::uint64_t n) {
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, end);
}

// A table of the bytes that are ASCII letters, digits or one of `others`.
constexpr std::array<bool, 256> alphanumerics_and(std::string_view others) {
    std::array<bool, 256> table{};
    for (const char c : others) table[static_cast<unsigned char>(c)] = true;
    for (int c = '0'; c <= '9'; ++c) table[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) table[c] = table[c - 'a' + 'A'] = true;
    return table;
}

// True for a field name that is a token (RFC 9110 §5.6.2) and a value without CR, LF or NUL: such a
// value would end the line early and let the rest pass for fields of its own.
// The value is scanned 16 bytes at a time (run_end): every field of every response passes here.
bool valid_field(std::string_view name, std::string_view value) {
    static constexpr auto token_chars = alphanumerics_and("!#$%&'*+-.^_`|~");
    if (name.empty()) return false;
    for (const char c : name)
        if (!token_chars[static_cast<unsigned char>(c)]) return false;
    return run_end<false, false, '\r', '\n', '\0'>(value, 0) == value.size();
}

// Writes the status line and header of `response` into `out`: the handler's fields in order, then
// Date, Server, Content-Length (`body_size`; none for 204 and 304) and the Connection field that
// `keep_alive` needs in HTTP/`version` 1.0 (10) or 1.1 (11). Returns false, leaving `out` unspecified,
// for a status outside 100-999 or a field valid_field() refuses.
bool format_head(std::string& out, const Response& response, unsigned version, std::size_t body_size,
                 bool keep_alive) {
    if (response.status < 100 || response.status > 999) return false;
    out.clear();
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_number(out, response.status);
    out += ' ';
    const auto reason = http::obsolete_reason(http::int_to_status(response.status));
    out.append(reason.data(), reason.size());
    out += "\r\n";
    for (const auto& [name, field] : response.headers) {
        const std::string_view value = field.view();
        if (!valid_field(name, value)) return false;
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    out += "Date: ";
    out += http_date();
    out += "\r\nServer: almanac/" ALMANAC_VERSION "\r\n";
    if (response.status != 304 && response.status != 204) {
        out += "Content-Length: ";
        append_number(out, body_size);
        out += "\r\n";
    }
    if (version == 10 && keep_alive) out += "Connection: keep-alive\r\n";
    if (version != 10 && !keep_alive) out += "Connection: close\r\n";
    out += "\r\n";
    return true;
}

// Returns "ADDR:PORT", with the IPv6 address in brackets.
std::string format_endpoint(const tcp::endpoint& ep) {
    const auto addr = ep.address().to_string();
    return ep.address().is_v6() ? fmt::format("[{}]:{}", addr, ep.port()) : fmt::format("{}:{}", addr, ep.port());
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

// Sets `out` to the values of every `field` line joined with ", " (RFC 9110 §5.3).
void join_fields(std::string& out, const WireRequest& req, http::field field) {
    out.clear();
    for (auto [it, end] = req.equal_range(field); it != end; ++it) {
        if (!out.empty()) out += ", ";
        out.append(it->value().data(), it->value().size());
    }
}

// True for a Host field value that RFC 9110 §7.2 allows: uri-host [":" port] as RFC 3986 §3.2.2 and
// §3.2.3 define them (an IP-literal in brackets, or a reg-name or IPv4 address), or empty.
bool valid_host(std::string_view host) {
    // unreserved, sub-delims and '%' (pct-encoded, its hex digits checked below)
    static constexpr auto name_chars = alphanumerics_and("-._~!$&'()*+,;=%");
    const auto is_hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    std::size_t i = 0;
    if (host.starts_with('[')) {
        // IPv6address or IPvFuture: hex digits, ':', '.', and for IPvFuture unreserved and sub-delims.
        const auto close = host.find(']');
        if (close == std::string_view::npos || close < 2) return false;
        for (i = 1; i < close; ++i)
            if (host[i] != ':' && (host[i] == '%' || !name_chars[static_cast<unsigned char>(host[i])])) return false;
        ++i;
    } else {
        for (; i < host.size() && host[i] != ':'; ++i) {
            if (!name_chars[static_cast<unsigned char>(host[i])]) return false;
            if (host[i] == '%' && !(i + 2 < host.size() && is_hex(host[i + 1]) && is_hex(host[i + 2]))) return false;
        }
    }
    if (i == host.size()) return true;
    if (host[i] != ':') return false;
    for (++i; i < host.size(); ++i)
        if (host[i] < '0' || host[i] > '9') return false;
    return true;
}

// Rewrites "HTTP/1.x" (x from 2 to 9) at the end of the request line that starts `data` to "HTTP/1.1",
// which Beast's parser refuses and RFC 9110 §2.5 says to answer as the highest 1.x version we speak.
// Returns false, changing nothing, when the line is not complete or ends otherwise.
bool downgrade_minor_version(char* data, std::size_t size) {
    const std::string_view text(data, size);
    const auto eol = text.find("\r\n");
    constexpr std::string_view prefix = " HTTP/1.";
    if (eol == std::string_view::npos || eol < prefix.size() + 1) return false;
    const std::size_t digit = eol - 1;
    if (text.substr(digit - prefix.size(), prefix.size()) != prefix || data[digit] < '2' || data[digit] > '9')
        return false;
    data[digit] = '1';
    return true;
}

// True when a read failed because the bytes are not HTTP, rather than because the connection ended.
bool is_malformed(const beast::error_code& ec) {
    static const auto& http_category = http::make_error_code(http::error::bad_method).category();
    return ec.category() == http_category && ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// Cancels a timer's wait. Only a failing reactor makes cancel() throw, and then nothing is left to undo.
void cancel_quietly(net::steady_timer& timer) noexcept {
    try {
        timer.cancel();
    } catch (const std::exception& e) {
        spdlog::error("http: cannot cancel a timer: {}", e.what());
    }
}

// How many sockets the server may hold, and how many of them may be admitted connections.
struct SocketBudget {
    std::size_t sockets;
    std::size_t connections;
};

// Raises the soft limit on open files towards what `max_connections` needs, as far as the hard limit
// allows (shells and containers often start at 1024 where the hard limit is far higher), and returns
// the budget that limit leaves: every descriptor but the reserve, and of those a quarter kept for
// answering 503, so that the cap answers 503 rather than the kernel's backlog holding clients silent.
SocketBudget descriptor_budget(int max_connections) {
    const auto wanted_connections = static_cast<rlim_t>(std::max(max_connections, 1));
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = limit.rlim_max = 1024;
    // A third more than max_connections, so that a quarter of the sockets is left for 503s at the cap.
    const rlim_t wanted = wanted_connections + wanted_connections / 3 + reserved_descriptors + 1;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
        if (raised.rlim_cur > limit.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    const rlim_t available = limit.rlim_cur == RLIM_INFINITY ? wanted : limit.rlim_cur;
    const auto sockets =
        static_cast<std::size_t>(available > reserved_descriptors + 4 ? available - reserved_descriptors : 4);
    const auto connections = std::min(static_cast<std::size_t>(wanted_connections), sockets - sockets / 4);
    if (connections < wanted_connections)
        spdlog::warn(
            "http: server.limits.max_connections is {}, but this process may open only {} files "
            "(ulimit -n, LimitNOFILE=): serving at most {} connections at once",
            max_connections, static_cast<unsigned long long>(limit.rlim_cur), connections);
    return {sockets, connections};
}

// True at most once per overload_log_interval for the same `last` (steady-clock ticks).
bool log_overload_now(std::atomic<Clock::rep>& last) {
    const auto now = Clock::now().time_since_epoch().count();
    auto seen = last.load();
    const auto interval = std::chrono::duration_cast<Clock::duration>(overload_log_interval).count();
    return (seen == 0 || now - seen >= interval) && last.compare_exchange_strong(seen, now);
}

// The server's own answers may answer a feed request: browser code on another origin may read them.
Response plain_response(unsigned status, const std::string& reason) {
    Response res;
    res.status = status;
    res.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    res.headers.emplace_back("Access-Control-Allow-Origin", "*");
    res.body = std::make_shared<const std::string>(reason + "\n");
    res.route = "other";
    return res;
}

class Session;
class Listener;

// One drain() call: its deadline timer and the callback to post exactly once.
struct DrainWaiter {
    DrainWaiter(net::io_context& ioc, std::function<void()> callback) : timer(ioc), done(std::move(callback)) {}
    net::steady_timer timer;
    std::function<void()> done;
    std::atomic<bool> fired{false};
};

// What sessions and acceptors share: the handler, the limits, the registry of live sessions, the drain
// state. Sessions and acceptors hold it by shared_ptr, so it outlives the HttpServer object if needed.
class ServerCore : public std::enable_shared_from_this<ServerCore> {
public:
    ServerCore(net::io_context& ioc, std::vector<std::reference_wrapper<net::io_context>> connection_contexts,
               const ServerLimits& limits, HttpServer::Handler handler, HttpServer::Observer observer,
               bool access_log)
        : ioc_(ioc), contexts_(std::move(connection_contexts)), handler_(std::move(handler)),
          observer_(std::move(observer)), access_log_(access_log), limits_(limits) {
        if (contexts_.empty()) contexts_.emplace_back(ioc_);
        apply_budget(limits.max_connections);
    }
    ServerCore(const ServerCore&) = delete;
    ServerCore& operator=(const ServerCore&) = delete;

    // The context for the next connection: each in turn.
    net::io_context& next_context() {
        return contexts_[next_context_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
    }
    bool access_log() const { return access_log_; }
    bool draining() const { return draining_; }
    bool stopped() const { return stopped_; }

    ServerLimits limits() const {
        std::lock_guard lock(limits_mutex_);
        return limits_;
    }
    // Counts set_limits() calls: sessions compare it on each request and copy the limits only when it
    // changed, rather than taking the lock every request.
    std::uint64_t limits_version() const { return limits_version_.load(std::memory_order_acquire); }
    void set_limits(const ServerLimits& limits) {
        std::lock_guard lock(limits_mutex_);
        if (limits_.max_connections != limits.max_connections) apply_budget(limits.max_connections);
        limits_ = limits;
        limits_version_.fetch_add(1, std::memory_order_release);
    }

    // Returns the handler's response; exceptions propagate to the session, which answers 500.
    Response handle(const Request& request) const { return handler_(request); }

    // Reports one written response; an observer that throws is logged, not fatal to the connection.
    void observe(const std::string& route, unsigned status) const {
        if (!observer_) return;
        try {
            observer_(route, status);
        } catch (const std::exception& e) {
            spdlog::error("http: observer failed: {}", e.what());
        }
    }

    // Connections admitted under max_connections; one refused with 503 is not counted.
    std::size_t open_connections() const { return admitted_; }
    void release_connection() { --admitted_; }
    // Every session's socket, refused ones included, counts against the descriptor budget.
    void release_socket() { --sockets_; }

    // Both return the bound "ADDR:PORT" and throw std::runtime_error saying why they cannot.
    std::string listen(const std::string& address);
    std::string adopt(int fd);
    // Admits or refuses (503) a freshly accepted connection.
    void serve(tcp::socket socket);
    // Unregisters a session on its destruction; the last one to go completes a drain.
    void remove_session(const Session* session);
    // Closes the acceptors and idle sessions; `done` is posted once all sessions end or at the deadline.
    void drain(std::chrono::milliseconds deadline, std::function<void()> done);
    // Closes every acceptor and connection now: the HttpServer is being destroyed.
    void stop();

private:
    bool admit(std::size_t max_connections) {
        if (admitted_.fetch_add(1) < max_connections) return true;
        --admitted_;
        return false;
    }
    void apply_budget(int max_connections) {
        const auto budget = descriptor_budget(max_connections);
        socket_budget_ = budget.sockets;
        connection_cap_ = budget.connections;
    }
    tcp::acceptor open_acceptor(const tcp::endpoint& ep, beast::error_code& ec);
    void start_listener(tcp::acceptor acceptor);
    std::vector<std::shared_ptr<Session>> live_sessions();
    void on_drain_deadline(const std::shared_ptr<DrainWaiter>& waiter);
    void fire(const std::shared_ptr<DrainWaiter>& waiter);

    net::io_context& ioc_;
    std::vector<std::reference_wrapper<net::io_context>> contexts_;  // for connections
    std::atomic<std::size_t> next_context_{0};
    const HttpServer::Handler handler_;
    const HttpServer::Observer observer_;
    const bool access_log_;

    mutable std::mutex limits_mutex_;
    ServerLimits limits_;
    std::atomic<std::uint64_t> limits_version_{0};

    std::atomic<bool> draining_{false};
    std::atomic<bool> stopped_{false};
    std::atomic<std::size_t> admitted_{0};  // sessions under the cap; refused ones are not counted
    std::atomic<std::size_t> sockets_{0};   // every session, refused ones included
    std::atomic<std::size_t> socket_budget_{0};
    std::atomic<std::size_t> connection_cap_{0};  // max_connections, or less if descriptors are short
    std::atomic<Clock::rep> last_overload_log_{0};

    std::mutex mutex_;  // guards the three containers below
    std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;
    std::vector<std::weak_ptr<Listener>> listeners_;
    std::vector<std::shared_ptr<DrainWaiter>> waiters_;
};

// One connection. Every member runs on the thread of the connection's context; the public functions
// get there first.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<ServerCore> core, tcp::socket socket, bool admitted)
        : core_(std::move(core)), socket_(std::move(socket)), timer_(socket_.get_executor()), admitted_(admitted) {
        beast::error_code ec;
        const auto peer = socket_.remote_endpoint(ec);
        peer_ = ec ? "-" : format_endpoint(peer);
        // Each response is one gather write: nothing small is left for Nagle to hold back, but the
        // last segment of a large body would wait for the client's ACK of the ones before it.
        socket_.set_option(tcp::no_delay(true), ec);
    }

    ~Session() {
        try {
            if (admitted_) core_->release_connection();
            core_->release_socket();
            core_->remove_session(this);
        } catch (const std::exception& e) {
            spdlog::error("http: cannot unregister connection {}: {}", peer_, e.what());
        }
    }

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Serves requests until the connection ends.
    void start() {
        net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
            self->guarded([&] {
                // Non-blocking from the start, with one ioctl a connection (asio's reads make it so
                // anyway): sendfile never waits, and needs no ioctl of its own on every request.
                beast::error_code ec;
                self->socket_.non_blocking(true, ec);
                if (ec) return self->shut();
                self->next_request();
            });
        });
    }

    // Answers 503 and closes: the connection cap is reached.
    void reject() {
        net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
            self->guarded([&] {
                self->update_limits();
                self->started_ = Clock::now();
                self->respond_error(503, "too many connections");
            });
        });
    }

    // Closes the connection now if it is waiting for a request; a request in progress is answered
    // first, and next_request() then sees the drain and closes.
    void drain() {
        net::post(socket_.get_executor(), [self = shared_from_this()] {
            if (self->phase_ == Phase::waiting) self->shut();
        });
    }

    // Closes the connection whatever it is doing.
    void close() {
        net::post(socket_.get_executor(), [self = shared_from_this()] { self->shut(); });
    }

private:
    // waiting: for the first byte of a request; reading: the rest of it; responding: the handler and
    // the write; closing: the response is out, what the client still sends is read and dropped.
    enum class Phase { waiting,
                       reading,
                       responding,
                       closing };

    template <class F>
    void guarded(F&& f) noexcept {
        try {
            f();
        } catch (const std::exception& e) {
            spdlog::error("http: connection {} failed: {}", peer_, e.what());
            shut();
        } catch (...) {
            spdlog::error("http: connection {} failed", peer_);
            shut();
        }
    }

    // Copies the server's limits when set_limits() changed them since this session last looked.
    void update_limits() {
        const auto version = core_->limits_version();
        if (version == limits_version_) return;
        limits_ = core_->limits();
        limits_version_ = version;
    }

    void next_request() {
        if (core_->draining()) return shut();
        update_limits();
        new_parser();
        // Pipelined: the next request is already here.
        if (buffer_.size() > 0 && skip_empty_lines()) return begin_request();
        // A new connection gets the header timeout for its first byte; a kept-alive one the idle timeout.
        // Expiry closes the socket silently: no request has begun.
        phase_ = Phase::waiting;
        const int wait_seconds = first_ ? limits_.header_timeout_seconds : limits_.idle_timeout_seconds;
        set_deadline(std::chrono::seconds(wait_seconds));
        read_more();
    }

    void new_parser() {
        parser_.reset();  // its fields go back to the arena, all at once
        arena_.reset();
        parser_.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAllocator<char>(&arena_)));
        parser_->header_limit(static_cast<std::uint32_t>(std::max(limits_.max_header_bytes, 1)));
        parser_->body_limit(body_limit);
        header_checked_ = false;
    }

    // Drops the empty lines (CRLF) that may come before a request line, which RFC 9112 §2.2 asks a
    // server to ignore (some clients send one after a body). Returns true when a request's first byte is
    // left in buffer_; false when nothing is, or only a CR that may begin one more empty line.
    bool skip_empty_lines() {
        const auto* data = static_cast<const char*>(buffer_.data().data());
        const std::size_t size = buffer_.size();
        std::size_t n = 0;
        while (n + 1 < size && data[n] == '\r' && data[n + 1] == '\n') n += 2;
        const bool request_left = size - n > 1 || (size - n == 1 && data[n] != '\r');
        buffer_.consume(n);
        return request_left;
    }

    // The first bytes of a request are in buffer_: from now on the header timeout runs.
    void begin_request() {
        phase_ = Phase::reading;
        started_ = Clock::now();
        timed_out_ = false;
        deadline_set_ = false;
        parse();
    }

    // Parses what buffer_ holds: answers a complete request at once, without another trip through the
    // event loop, or reads more.
    void parse() {
        for (;;) {
            beast::error_code ec;
            const std::size_t used = parser_->put(buffer_.data(), ec);
            buffer_.consume(used);
            if (ec == http::error::bad_version && used == 0 &&
                downgrade_minor_version(static_cast<char*>(buffer_.data().data()), buffer_.size())) {
                new_parser();  // a parser that failed takes no more input
                continue;
            }
            if (ec && ec != http::error::need_more) return on_read(ec);
            if (!header_checked_ && parser_->is_header_done()) {
                header_checked_ = true;
                if (const char* problem = header_problem()) return respond_error(400, problem);
            }
            if (parser_->is_done()) return on_read({});
            // put() stops after the header; the body, if any, takes further calls.
            if (ec || used == 0 || buffer_.size() == 0) break;
        }
        // The timer fired while the last read was completing: its cancel() came too late for that read.
        if (timed_out_) return on_read(net::error::operation_aborted);
        // The body has yet to come, and the client may be waiting for a 100 (Continue) to send it: the
        // final answer goes at once, and the connection is closed since the body may follow it or not.
        if (parser_->is_header_done() && expects_continue()) return respond(true);
        // The whole request gets header_timeout from its first byte. Most arrive in one read and never
        // need the timer moved.
        if (!deadline_set_) {
            set_deadline(std::chrono::seconds(limits_.header_timeout_seconds) - (Clock::now() - started_));
            deadline_set_ = true;
        }
        read_more();
    }

    void read_more() {
        socket_.async_read_some(buffer_.prepare(read_chunk),
                                [self = shared_from_this()](const beast::error_code& ec, std::size_t n) {
                                    self->guarded([&] { self->on_bytes(ec, n); });
                                });
    }

    void on_bytes(beast::error_code ec, std::size_t n) {
        buffer_.commit(n);
        if (phase_ == Phase::closing) return shut();
        if (phase_ == Phase::waiting) return ec ? shut() : skip_empty_lines() ? begin_request()
                                                                              : read_more();
        // As http::read does: the end of the stream ends a request only where the parser says it may.
        if (ec == net::error::eof) {
            ec = {};
            parser_->put_eof(ec);
            return on_read(ec);
        }
        if (ec) return on_read(ec);
        parse();
    }

    // Why the header just parsed is refused with 400, or null. Checked before any of the body is read.
    const char* header_problem() const {
        const WireRequest& req = parser_->get();
        if (req.count(http::field::transfer_encoding) > 0) {
            // A transfer coding without chunked last leaves the body's length unknown (RFC 9112 §6.3):
            // Beast reads no body then, where a proxy in front may have framed one (request smuggling).
            if (!parser_->chunked()) return "malformed request";
            // HTTP/1.0 has no transfer codings: a proxy in front may have framed the body otherwise, and
            // RFC 9112 §6.1 says to treat the framing as faulty.
            if (req.version() < 11) return "malformed request";
        }
        // RFC 9112 §3.2: one Host field, with a valid value; HTTP/1.0 may go without.
        const auto [host, end] = req.equal_range(http::field::host);
        if (host == end) return req.version() < 11 ? nullptr : "missing Host header";
        if (std::next(host) != end) return "more than one Host header";
        if (!valid_host(view(host->value()))) return "invalid Host header";
        return nullptr;
    }

    // True for an HTTP/1.1 request with "Expect: 100-continue" (RFC 9110 §10.1.1; HTTP/1.0 ones ignore it).
    bool expects_continue() const {
        const WireRequest& req = parser_->get();
        const auto expect = req.find(http::field::expect);
        return req.version() >= 11 && expect != req.end() && beast::iequals(expect->value(), "100-continue");
    }

    // True when the request line ends within max_header_bytes: only the fields after it are too large.
    bool request_line_fits() const {
        if (!parser_->get().target().empty()) return true;  // the parser has read it
        const std::string_view buffered(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        return buffered.substr(0, static_cast<std::size_t>(limits_.max_header_bytes)).find("\r\n") !=
               std::string_view::npos;
    }

    void on_read(const beast::error_code& ec) {
        if (!ec) return respond();
        if (timed_out_) return respond_error(408, "request not received in time");
        if (ec == http::error::header_limit)
            return request_line_fits() ? respond_error(431, "request header fields too large")
                                       : respond_error(414, "request target too long");
        if (ec == http::error::body_limit) return respond_error(413, "request body too large");
        if (is_malformed(ec)) return respond_error(400, "malformed request");
        shut();  // the client went away or the connection was closed under us
    }

    // Answers the request whose header parser_ holds; `early`, before its body has come, and then closes.
    void respond(bool early = false) {
        phase_ = Phase::responding;
        if (core_->stopped()) return shut();  // the handler may refer to what the server's owner destroyed
        const WireRequest& req = parser_->get();
        // Assigned, not constructed: the strings keep their buffers from one request to the next.
        request_.method = view(req.method_string());
        request_.target = view(req.target());
        join_fields(request_.if_none_match, req, http::field::if_none_match);
        join_fields(request_.if_modified_since, req, http::field::if_modified_since);
        join_fields(request_.accept_encoding, req, http::field::accept_encoding);
        if (req.method() == http::verb::options)
            join_fields(request_.access_control_request_method, req, http::field::access_control_request_method);
        else
            request_.access_control_request_method.clear();
        Response response;
        try {
            response = core_->handle(request_);
        } catch (const std::exception& e) {
            spdlog::error("http: handler failed on {} {}: {}", request_.method, request_.target, e.what());
            response = plain_response(500, "internal error");
        } catch (...) {
            spdlog::error("http: handler failed on {} {}", request_.method, request_.target);
            response = plain_response(500, "internal error");
        }
        keep_alive_ = req.keep_alive() && !core_->draining() && !early;
        linger_ = early;
        write(std::move(response), req.version() == 10 ? 10 : 11);
    }

    // The server's own answers: a one-line reason, then the connection is closed.
    void respond_error(unsigned status, const std::string& reason) {
        phase_ = Phase::responding;
        keep_alive_ = false;
        linger_ = true;  // the client may still be sending the request we refused
        const bool known = parser_ && parser_->is_header_done();
        request_.method = known ? view(parser_->get().method_string()) : std::string_view("-");
        request_.target = known ? view(parser_->get().target()) : std::string_view("-");
        auto response = plain_response(status, reason);
        if (status == 503) response.headers.emplace_back("Retry-After", "1");
        write(std::move(response), 11);
    }

    // Writes the head and the body with one gather write; the head string is kept between responses
    // so that its buffer is reused.
    void write(Response response, unsigned version) {
        const std::size_t size = response.body.size();
        // For HEAD too: the size of the body a GET would get. A 304 has no body, and a Content-Length
        // there would have to be the 200's (RFC 9110 §8.6): none is sent.
        if (!format_head(head_, response, version, size, keep_alive_)) {
            spdlog::error("http: the response to {} {} has status {} or a header field that cannot be sent",
                          request_.method, request_.target, response.status);
            return write(plain_response(500, "internal error"), version);
        }
        body_ = std::move(response.body);
        const bool bodiless = response.head || response.status == 304 || response.status == 204;
        sent_bytes_ = bodiless ? 0 : size;
        buffers_.clear();
        buffers_.push_back(net::buffer(head_));
        if (sent_bytes_ > 0)
            body_.for_each_piece([&](std::string_view piece) { buffers_.emplace_back(piece.data(), piece.size()); });
        status_ = response.status;
        route_ = response.route.empty() ? "other" : std::move(response.route);
        // A client that never reads must not pin the connection.
        set_deadline(std::chrono::seconds(limits_.idle_timeout_seconds));
        if (sent_bytes_ > 0 && body_.file()) return send_head_then_file();
        net::async_write(socket_, BufferSpan(buffers_), transfer_all_at_once,
                         [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                             self->guarded([&] { self->on_write(ec); });
                         });
    }

    // A body in a sealed file leaves with sendfile(2), from the kernel's pages instead of copied from
    // ours: first the head with MSG_MORE, so that it goes out in one segment with the body's start.
    void send_head_then_file() {
        file_sent_ = 0;
        if (!socket_.non_blocking()) {  // set in start(); not for a rejected connection
            beast::error_code mode;
            socket_.non_blocking(true, mode);
            if (mode) return on_write(mode);
        }
        const ssize_t n = ::send(socket_.native_handle(), head_.data(), head_.size(), MSG_MORE | MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(head_.size())) return send_file();
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return on_write(beast::error_code(errno, beast::system_category()));
        // The socket's buffer is full: the rest of the head goes as any write does.
        const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
        net::async_write(socket_, net::buffer(head_.data() + sent, head_.size() - sent),
                         [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                             self->guarded([&] { ec ? self->on_write(ec) : self->send_file(); });
                         });
    }

    // Sends what is left of the body's file, waiting for room in the socket's buffer when it is full.
    void send_file() {
        const SealedFile& file = *body_.file();
        while (file_sent_ < file.size()) {
            auto offset = static_cast<off_t>(file_sent_);
            const ssize_t n = ::sendfile(socket_.native_handle(), file.fd(), &offset, file.size() - file_sent_);
            if (n > 0) {
                file_sent_ += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const beast::error_code& ec) {
                    self->guarded([&] { ec ? self->on_write(ec) : self->send_file(); });
                });
                return;
            }
            // A sealed file cannot shrink, so 0 is not its end: something is wrong with the socket.
            return on_write(n == 0 ? beast::error_code(net::error::connection_aborted)
                                   : beast::error_code(errno, beast::system_category()));
        }
        on_write({});
    }

    void on_write(const beast::error_code& ec) {
        if (core_->access_log()) {
            const std::chrono::duration<double, std::milli> took = Clock::now() - started_;
            spdlog::info("{} \"{} {}\" {} {} {:.1f}ms{}", peer_, request_.method, request_.target, status_, sent_bytes_,
                         took.count(), ec ? " (not sent: " + ec.message() + ")" : std::string());
        }
        body_ = nullptr;
        if (ec) return shut();
        core_->observe(route_, status_);
        if (!keep_alive_) return finish();
        first_ = false;
        next_request();
    }

    // Closes after the last response: half-close, then read and drop what the client still sends
    // (bounded by linger_time) when it may have sent more, so the response is not lost to a reset.
    void finish() {
        phase_ = Phase::closing;
        beast::error_code ec;
        const bool unread = buffer_.size() > 0 || socket_.available(ec) > 0;
        socket_.shutdown(tcp::socket::shutdown_send, ec);
        if (ec || !(linger_ || unread)) return shut();
        set_deadline(linger_time);
        linger();
    }

    void linger() {
        buffer_.clear();
        socket_.async_read_some(buffer_.prepare(read_chunk),
                                [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                                    self->guarded([&] { ec ? self->shut() : self->linger(); });
                                });
    }

    // Sets how long the current phase may take. The timer is moved at once to an earlier deadline, but
    // to a later one only when it would fire before half the time is up: a timer that fires early waits
    // again for the rest. A busy kept-alive connection so re-arms it about twice an idle timeout rather
    // than for every request, and an idle one is not woken before its time.
    void set_deadline(Clock::duration timeout) {
        const auto now = Clock::now();
        deadline_ = now + timeout;
        if (timer_armed_ && timer_expiry_ <= deadline_ && timer_expiry_ >= now + timeout / 2) return;
        arm_timer(deadline_);
    }

    void arm_timer(Clock::time_point expiry) {
        timer_expiry_ = expiry;
        timer_armed_ = true;
        timer_.expires_at(expiry);  // the wait it replaces completes with operation_aborted
        timer_.async_wait([self = shared_from_this(), seq = ++timer_seq_](const beast::error_code& ec) {
            self->guarded([&] { self->on_timer(ec, seq); });
        });
    }

    void on_timer(const beast::error_code& ec, std::uint64_t seq) {
        if (seq != timer_seq_) return;  // replaced by a later arm_timer()
        timer_armed_ = false;
        if (ec || !socket_.is_open()) return;
        if (Clock::now() < deadline_) return arm_timer(deadline_);
        switch (phase_) {
            case Phase::reading:
                // The read in progress ends with operation_aborted and on_read() answers 408.
                timed_out_ = true;
                socket_.cancel();
                return;
            case Phase::responding:
                // Only the write is left to time out: the handler runs without giving the timer a turn.
            case Phase::waiting:
            case Phase::closing:
                return shut();
        }
    }

    void shut() noexcept {
        phase_ = Phase::closing;
        cancel_quietly(timer_);
        beast::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
    }

    std::shared_ptr<ServerCore> core_;
    tcp::socket socket_;
    // One timer for every phase's deadline (deadline_); see set_deadline().
    net::steady_timer timer_;
    Clock::time_point deadline_;
    Clock::time_point timer_expiry_;
    std::uint64_t timer_seq_ = 0;
    bool timer_armed_ = false;
    bool deadline_set_ = false;    // the current request's header deadline is set
    bool header_checked_ = false;  // header_problem() and the expectation were looked at
    beast::flat_buffer buffer_;
    FieldArena arena_;  // before parser_, whose fields it holds: destroyed after it
    std::optional<WireParser> parser_;
    Request request_;                         // reused, so its strings keep their buffers
    std::string head_;                        // the status line and header being written
    Body body_;                               // kept alive until the write that borrows it completes
    std::vector<net::const_buffer> buffers_;  // head_, then the body's pieces unless none is sent (kept while written)
    std::size_t file_sent_ = 0;               // bytes of body_.file() sent so far
    ServerLimits limits_;                     // as they were when the current request began
    std::uint64_t limits_version_ = std::numeric_limits<std::uint64_t>::max();
    std::string peer_;
    std::string route_;
    unsigned status_ = 0;
    std::size_t sent_bytes_ = 0;
    Clock::time_point started_;
    Phase phase_ = Phase::waiting;
    const bool admitted_;
    bool first_ = true;
    bool keep_alive_ = false;
    bool linger_ = false;
    bool timed_out_ = false;
};

// One listening socket, accepting on the main context; accepted connections go to each connection
// context in turn.
class Listener : public std::enable_shared_from_this<Listener> {
public:
    Listener(std::shared_ptr<ServerCore> core, tcp::acceptor acceptor)
        : core_(std::move(core)), acceptor_(std::move(acceptor)), retry_timer_(acceptor_.get_executor()) {
        beast::error_code ec;
        const auto ep = acceptor_.local_endpoint(ec);
        name_ = ec ? "-" : format_endpoint(ep);
    }

    void start() {
        net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
    }

    void close() {
        net::post(acceptor_.get_executor(), [self = shared_from_this()] {
            cancel_quietly(self->retry_timer_);
            beast::error_code ec;
            self->acceptor_.close(ec);
        });
    }

private:
    void accept() {
        try {
            acceptor_.async_accept(beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
        } catch (const std::exception& e) {
            spdlog::error("http: cannot accept on {}: {}", name_, e.what());
        }
    }

    void on_accept(const beast::error_code& ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        try {
            if (!ec) {
                if (failing_) spdlog::info("http: accepting on {} again", name_);
                failing_ = false;
                core_->serve(rehome(std::move(socket)));
                return accept();
            }
            // Typically EMFILE: retrying at once would spin while the condition lasts, and logging
            // every retry would fill the log.
            if (!failing_)
                spdlog::warn("http: accept on {} failed: {}; retrying every {} ms", name_, ec.message(),
                             accept_retry_delay.count());
            failing_ = true;
        } catch (const std::exception& e) {
            spdlog::error("http: cannot serve a connection on {}: {}", name_, e.what());
        }
        retry_timer_.expires_after(accept_retry_delay);
        retry_timer_.async_wait([self = shared_from_this()](const beast::error_code& wait_ec) {
            if (!wait_ec) self->accept();
        });
    }

    // The accepted socket moved to the next connection context. It is accepted on the acceptor's own
    // context and handed over afterwards: an accept still pending when the contexts are destroyed then
    // refers to no other context, whatever order they go in.
    tcp::socket rehome(tcp::socket accepted) {
        beast::error_code ec;
        const auto protocol = accepted.local_endpoint(ec).protocol();
        if (ec) throw beast::system_error(ec);
        tcp::socket socket(core_->next_context());
        const auto fd = accepted.release(ec);
        if (ec) throw beast::system_error(ec);
        socket.assign(protocol, fd, ec);
        if (ec) {
            ::close(fd);
            throw beast::system_error(ec);
        }
        return socket;
    }

    std::shared_ptr<ServerCore> core_;
    tcp::acceptor acceptor_;
    net::steady_timer retry_timer_;
    std::string name_;
    bool failing_ = false;  // the last accept failed
};

tcp::acceptor ServerCore::open_acceptor(const tcp::endpoint& ep, beast::error_code& ec) {
    tcp::acceptor acceptor(ioc_);
    if (acceptor.open(ep.protocol(), ec) || acceptor.set_option(net::socket_base::reuse_address(true), ec))
        return acceptor;
    // An IPv6 address serves IPv6 only, so `--listen 0.0.0.0:P --listen [::]:P` can bind both.
    if (ep.address().is_v6() && acceptor.set_option(boost::asio::ip::v6_only(true), ec)) return acceptor;
    if (!acceptor.bind(ep, ec)) acceptor.listen(net::socket_base::max_listen_connections, ec);
    return acceptor;
}

void ServerCore::start_listener(tcp::acceptor acceptor) {
    auto listener = std::make_shared<Listener>(shared_from_this(), std::move(acceptor));
    {
        std::lock_guard lock(mutex_);
        listeners_.push_back(listener);
    }
    listener->start();
}

// Every address the host name resolves to is bound (localhost may mean ::1 and 127.0.0.1); an
// address this machine lacks is skipped when another one works. With port 0 the later addresses
// reuse the port the first one got. Returns the first bound address.
std::string ServerCore::listen(const std::string& address) {
    const auto fail = [&](const std::string& why) {
        return std::runtime_error("cannot listen on " + address + ": " + why);
    };
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) throw fail("expected ADDR:PORT");
    std::string host = address.substr(0, colon);
    const std::string port = address.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535)
        throw fail("expected ADDR:PORT");

    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    const auto results = resolver.resolve(host, port, tcp::resolver::numeric_service, ec);
    if (ec) throw fail(ec.message());

    std::vector<tcp::acceptor> acceptors;
    std::vector<tcp::endpoint> bound;
    beast::error_code first_error;
    for (const auto& entry : results) {
        tcp::endpoint ep = entry.endpoint();
        if (!bound.empty() && ep.port() == 0) ep.port(bound.front().port());
        if (std::find(bound.begin(), bound.end(), ep) != bound.end()) continue;
        auto acceptor = open_acceptor(ep, ec);
        tcp::endpoint local;
        if (!ec) local = acceptor.local_endpoint(ec);
        if (ec) {
            if (ec != boost::system::errc::address_not_available &&
                ec != boost::system::errc::address_family_not_supported)
                throw fail(ec.message());
            if (!first_error) first_error = ec;
            spdlog::warn("http: skipping {} for {}: {}", format_endpoint(ep), address, ec.message());
            continue;
        }
        bound.push_back(local);
        acceptors.push_back(std::move(acceptor));
    }
    if (acceptors.empty()) throw fail(first_error ? first_error.message() : "no address");
    for (auto& acceptor : acceptors) start_listener(std::move(acceptor));
    return format_endpoint(bound.front());
}

std::string ServerCore::adopt(int fd) {
    const auto fail = [&](const std::string& why) {
        return std::runtime_error("cannot serve on inherited socket " + std::to_string(fd) + ": " + why);
    };
    const auto os_error = [] { return std::generic_category().message(errno); };
    sockaddr_storage addr{};
    socklen_t addr_len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) throw fail(os_error());
    if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) throw fail("not an IPv4 or IPv6 socket");
    int value = 0;
    socklen_t value_len = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &value_len) != 0) throw fail(os_error());
    if (value != SOCK_STREAM) throw fail("not a stream socket");
    value_len = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &value_len) != 0) throw fail(os_error());
    if (value == 0) throw fail("not listening");

    tcp::acceptor acceptor(ioc_);
    beast::error_code ec;
    acceptor.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) throw fail(ec.message());
    const auto ep = acceptor.local_endpoint(ec);
    if (ec) throw fail(ec.message());
    start_listener(std::move(acceptor));
    return format_endpoint(ep);
}

void ServerCore::serve(tcp::socket socket) {
    // Past the budget even a 503 would hold a descriptor while it is sent: close at once.
    if (sockets_.fetch_add(1) >= socket_budget_) {
        --sockets_;
        beast::error_code ec;
        socket.close(ec);
        if (log_overload_now(last_overload_log_))
            spdlog::warn(
                "http: {} sockets open, the most the open-file limit allows; closing new connections "
                "unanswered",
                socket_budget_.load());
        return;
    }
    const bool admitted = admit(connection_cap_);
    std::shared_ptr<Session> session;
    try {
        session = std::make_shared<Session>(shared_from_this(), std::move(socket), admitted);
    } catch (...) {
        if (admitted) release_connection();
        --sockets_;
        throw;
    }
    {
        std::lock_guard lock(mutex_);
        sessions_.emplace(session.get(), session);
    }
    admitted ? session->start() : session->reject();
}

void ServerCore::remove_session(const Session* session) {
    std::vector<std::shared_ptr<DrainWaiter>> ready;
    {
        std::lock_guard lock(mutex_);
        sessions_.erase(session);
        if (sessions_.empty()) ready.swap(waiters_);  // waiters_ is only ever non-empty while draining
    }
    for (const auto& waiter : ready) fire(waiter);
}

std::vector<std::shared_ptr<Session>> ServerCore::live_sessions() {
    std::vector<std::shared_ptr<Session>> out;
    std::lock_guard lock(mutex_);
    for (const auto& [ptr, weak] : sessions_)
        if (auto session = weak.lock()) out.push_back(std::move(session));
    return out;
}

void ServerCore::drain(std::chrono::milliseconds deadline, std::function<void()> done) {
    draining_ = true;
    auto waiter = std::make_shared<DrainWaiter>(ioc_, std::move(done));
    std::vector<std::shared_ptr<Listener>> listeners;
    bool idle = false;
    {
        std::lock_guard lock(mutex_);
        for (const auto& weak : listeners_)
            if (auto listener = weak.lock()) listeners.push_back(std::move(listener));
        listeners_.clear();
        idle = sessions_.empty();
        if (!idle) waiters_.push_back(waiter);
    }
    for (const auto& listener : listeners) listener->close();
    if (idle) return fire(waiter);
    // Armed on the timer's thread, where fire() also cancels it, so the two cannot race.
    net::dispatch(waiter->timer.get_executor(), [self = shared_from_this(), waiter, deadline] {
        if (waiter->fired) return;
        try {
            waiter->timer.expires_after(deadline);
            waiter->timer.async_wait([self, waiter](const beast::error_code& ec) {
                if (!ec) self->on_drain_deadline(waiter);
            });
        } catch (const std::exception& e) {
            spdlog::error("http: cannot arm the drain deadline: {}", e.what());
        }
    });
    for (const auto& session : live_sessions()) session->drain();
}

void ServerCore::on_drain_deadline(const std::shared_ptr<DrainWaiter>& waiter) {
    if (waiter->fired) return;
    try {
        const auto sessions = live_sessions();
        spdlog::warn("http: drain deadline passed with {} connection(s) open; closing them", sessions.size());
        for (const auto& session : sessions) session->close();
        {
            std::lock_guard lock(mutex_);
            waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
        }
    } catch (const std::exception& e) {
        spdlog::error("http: drain deadline: {}", e.what());
    }
    fire(waiter);
}

void ServerCore::fire(const std::shared_ptr<DrainWaiter>& waiter) {
    if (waiter->fired.exchange(true)) return;
    try {
        if (waiter->done)
            net::post(ioc_, [done = std::move(waiter->done)] {
                try {
                    done();
                } catch (const std::exception& e) {
                    spdlog::error("http: drain callback failed: {}", e.what());
                }
            });
        net::post(waiter->timer.get_executor(), [waiter] { cancel_quietly(waiter->timer); });
    } catch (const std::exception& e) {
        spdlog::error("http: cannot finish drain: {}", e.what());
    }
}

// A drain still in progress is abandoned without calling its `done`: that callback belongs to the
// owner that is destroying the server.
void ServerCore::stop() {
    stopped_ = true;
    draining_ = true;
    std::vector<std::shared_ptr<Listener>> listeners;
    std::vector<std::shared_ptr<DrainWaiter>> waiters;
    {
        std::lock_guard lock(mutex_);
        for (const auto& weak : listeners_)
            if (auto listener = weak.lock()) listeners.push_back(std::move(listener));
        listeners_.clear();
        waiters.swap(waiters_);
    }
    for (const auto& listener : listeners) listener->close();
    for (const auto& waiter : waiters) {
        waiter->fired = true;
        net::post(waiter->timer.get_executor(), [waiter] { cancel_quietly(waiter->timer); });
    }
    for (const auto& session : live_sessions()) session->close();
}

}  // namespace

struct HttpServer::State : ServerCore {
    using ServerCore::ServerCore;
};

HttpServer::HttpServer(boost::asio::io_context& ioc,
                       std::vector<std::reference_wrapper<boost::asio::io_context>> connection_contexts,
                       const ServerLimits& limits, Handler handler, Observer observer, bool access_log)
    : state_(std::make_shared<State>(ioc, std::move(connection_contexts), limits, std::move(handler),
                                     std::move(observer), access_log)) {
    // sendfile(2) has no MSG_NOSIGNAL: a body sent to a connection the client has reset would raise
    // SIGPIPE, whose default action ends the process. Ignored, as nginx does; the write fails with
    // EPIPE and only that connection ends.
    std::signal(SIGPIPE, SIG_IGN);
}

// Closing is only posted to the contexts: if one is stopped, the posted work and the sessions it holds
// are destroyed with it.
HttpServer::~HttpServer() {
    try {
        state_->stop();
    } catch (const std::exception& e) {
        spdlog::error("http: stopping the server: {}", e.what());
    }
}

std::string HttpServer::listen(const std::string& address) { return state_->listen(address); }

std::string HttpServer::adopt(int listening_fd) { return state_->adopt(listening_fd); }

void HttpServer::set_limits(const ServerLimits& limits) { state_->set_limits(limits); }

void HttpServer::drain(std::chrono::milliseconds deadline, std::function<void()> done) {
    state_->drain(deadline, std::move(done));
}

std::size_t HttpServer::open_connections() const { return state_->open_connections(); }

}  // namespace almanac
