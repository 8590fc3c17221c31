// Tests for HttpServer: a real server on a loopback port, accepting on one io_context and serving on two
// more, each run by a thread of its own, and a plain POSIX client whose every wait is bounded by poll()
// with a deadline, so no test can hang.
#include "daemon/http_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>

namespace almanac {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
template <class F>
bool eventually(F condition, Clock::duration timeout = 3s) {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// True for "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7). Hand-written: std::regex trips GCC 12's
// -Wmaybe-uninitialized under the sanitizers.
bool is_imf_fixdate(const std::string& s) {
    const std::string shape = "Www, 00 Mmm 0000 00:00:00 GMT";
    const auto name_in = [&](const std::string& names, std::size_t at) {
        const auto pos = names.find(s.substr(at, 3));
        return pos != std::string::npos && pos % 4 == 0;
    };
    if (s.size() != shape.size() || !name_in("Mon Tue Wed Thu Fri Sat Sun", 0) ||
        !name_in("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", 8))
        return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i < 3 || (i >= 8 && i < 11)) continue;  // the names, checked above
        if (shape[i] == '0' ? std::isdigit(static_cast<unsigned char>(s[i])) == 0 : s[i] != shape[i]) return false;
    }
    return true;
}

struct Reply {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string header(const std::string& name) const {
        const auto it = headers.find(lower(name));
        return it == headers.end() ? std::string() : it->second;
    }
    bool has(const std::string& name) const { return headers.count(lower(name)) > 0; }
};

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// A loopback HTTP client on a raw socket: responses are parsed by Content-Length only.
class Client {
public:
    // `receive_buffer` bytes (0: the system's default) is SO_RCVBUF, set before connecting.
    explicit Client(int port, int receive_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ >= 0 && receive_buffer > 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        const auto addr = loopback(port);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) close();
    }
    ~Client() { close(); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    bool send(const std::string& bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Reads one response; for a HEAD request no body follows the header whatever Content-Length says.
    std::optional<Reply> read_reply(bool head = false, Clock::duration timeout = 3s) {
        const auto deadline = Clock::now() + timeout;
        std::size_t end;
        while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
            if (!fill(deadline)) return std::nullopt;
        Reply reply;
        std::size_t pos = buf_.find("\r\n");
        const std::string status_line = buf_.substr(0, pos);
        if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
        reply.status = static_cast<unsigned>(std::stoul(status_line.substr(9, 3)));
        while (pos < end) {
            const auto next = buf_.find("\r\n", pos + 2);
            const std::string line = buf_.substr(pos + 2, next - pos - 2);
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                const auto value_start = line.find_first_not_of(' ', colon + 1);
                reply.headers[lower(line.substr(0, colon))] =
                    value_start == std::string::npos ? std::string() : line.substr(value_start);
            }
            pos = next;
        }
        const std::size_t length =
            head || !reply.has("content-length") ? 0 : std::stoul(reply.header("content-length"));
        const std::size_t body_start = end + 4;
        while (buf_.size() < body_start + length)
            if (!fill(deadline)) return std::nullopt;
        reply.body = buf_.substr(body_start, length);
        buf_.erase(0, body_start + length);
        return reply;
    }

    // True when the server closes the connection (end of stream or reset) before the deadline.
    bool closed_within(Clock::duration timeout = 3s) {
        const auto deadline = Clock::now() + timeout;
        while (!eof_)
            if (!fill(deadline) && !eof_) return false;
        return true;
    }

    // Bytes received but not consumed by read_reply().
    const std::string& unread() const { return buf_; }

private:
    // Appends what arrives before the deadline; false on end of stream, error or deadline.
    bool fill(Clock::time_point deadline) {
        if (eof_ || fd_ < 0) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
        char chunk[4096];
        const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) {
            eof_ = n == 0 || errno == ECONNRESET;
            return false;
        }
        buf_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
};

std::string get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

// A body of 3,000 shared pieces of different sizes (more than one gather write takes), 3 MB in all:
// a large document assembled from cached entries.
std::shared_ptr<const Rope> many_pieces() {
    static const auto rope = [] {
        RopeBuilder b;
        b.append("HEAD\n");
        for (int i = 0; i < 3000; ++i)
            b.share(make_piece("entry " + std::to_string(i) + " " + std::string(i % 2000, 'x') + "\n"));
        b.append("TAIL\n");
        return std::make_shared<const Rope>(std::move(b).finish());
    }();
    return rope;
}

// A 600 KB body whose sealed file holds other bytes of the same length than its rope: a client that
// gets the file's bytes shows the server sent the file, not the heap copy.
struct SealedBody {
    std::shared_ptr<const Rope> rope;
    std::shared_ptr<const SealedFile> file;
    std::string file_bytes;
};

const SealedBody& sealed_body() {
    static const SealedBody body = [] {
        std::string heap, file;
        for (int i = 0; heap.size() < 600'000; ++i) {
            heap += "heap line " + std::to_string(i) + "\n";
            file += "file line " + std::to_string(i) + "\n";
        }
        auto in_file = SealedFile::make(Rope(file));
        return SealedBody{std::make_shared<const Rope>(std::move(heap)), std::move(in_file), std::move(file)};
    }();
    return body;
}

class HttpServerTest : public ::testing::Test {
protected:
    void make_server(const ServerLimits& limits = {}, bool access_log = false) {
        server_ = std::make_unique<HttpServer>(
            ioc_, std::vector<std::reference_wrapper<boost::asio::io_context>>{io_[0], io_[1]}, limits,
            [this](const Request& r) { return handle(r); },
            [this](const std::string& route, unsigned status) {
                std::lock_guard lock(mutex_);
                ++observed_[{route, status}];
            },
            access_log);
    }

    void run() {
        threads_.emplace_back([this] { ioc_.run(); });
        for (auto& context : io_) threads_.emplace_back([&context] { context.run(); });
    }

    // A server on 127.0.0.1 with a free port, running.
    void start(const ServerLimits& limits = {}, bool access_log = false) {
        make_server(limits, access_log);
        const auto bound = server_->listen("127.0.0.1:0");
        port_ = std::stoi(bound.substr(bound.rfind(':') + 1));
        ASSERT_EQ(bound, "127.0.0.1:" + std::to_string(port_));
        ASSERT_NE(port_, 0);
        run();
    }

    void TearDown() override {
        release_ = true;
        work_.reset();
        for (auto& work : io_work_) work.reset();
        ioc_.stop();
        for (auto& context : io_) context.stop();
        for (auto& t : threads_) t.join();
        server_.reset();
    }

    Response handle(const Request& r) {
        if (r.target == "/throw") throw std::runtime_error("boom");
        if (r.target == "/slow") {
            ++slow_entered_;
            eventually([this] { return release_.load(); }, 5s);
        }
        Response res;
        if (r.target == "/thread") {
            res.headers = {{"X-Thread", thread_name(std::this_thread::get_id())}};
            return res;
        }
        if (r.target == "/bad-value") {
            res.headers = {{"X-Fine", "yes"}, {"X-Value", "a\r\nX-Injected: yes"}};
            return res;
        }
        if (r.target == "/bad-name") {
            res.headers = {{"X-Injected: yes\r\nX-Name", "a"}};
            return res;
        }
        if (r.target == "/pieces") {
            res.body = many_pieces();
            res.head = r.method == "HEAD";
            return res;
        }
        if (r.target == "/sealed") {
            res.body = Body(sealed_body().rope, sealed_body().file);
            res.head = r.method == "HEAD";
            return res;
        }
        if (r.target == "/not-modified") {
            res.status = 304;
            res.headers = {{"ETag", "\"x\""}};
            return res;
        }
        res.headers = {{"Content-Type", "text/plain"},
                       {"X-Method", r.method},
                       {"X-If-None-Match", r.if_none_match},
                       {"X-If-Modified-Since", r.if_modified_since},
                       {"X-Accept-Encoding", r.accept_encoding},
                       {"X-Request-Method", r.access_control_request_method}};
        res.body = std::make_shared<const std::string>("target=" + r.target);
        res.head = r.method == "HEAD";
        res.route = "feed";
        return res;
    }

    static std::string thread_name(std::thread::id id) {
        std::ostringstream out;
        out << id;
        return out.str();
    }

    int observed(const std::string& route, unsigned status) {
        std::lock_guard lock(mutex_);
        const auto it = observed_.find({route, status});
        return it == observed_.end() ? 0 : it->second;
    }

    boost::asio::io_context ioc_{1};
    boost::asio::io_context io_[2]{boost::asio::io_context{1}, boost::asio::io_context{1}};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(ioc_);
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> io_work_[2]{
        boost::asio::make_work_guard(io_[0]), boost::asio::make_work_guard(io_[1])};
    std::unique_ptr<HttpServer> server_;
    std::vector<std::thread> threads_;
    int port_ = 0;
    std::mutex mutex_;
    std::map<std::pair<std::string, unsigned>, int> observed_;
    std::atomic<int> slow_entered_{0};
    std::atomic<bool> release_{false};
};

TEST_F(HttpServerTest, GetHasContentLengthDateAndServer) {
    start({}, true);
    Client c(port_);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(get("/hello")));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "target=/hello");
    EXPECT_EQ(r->header("Content-Length"), "13");
    EXPECT_EQ(r->header("Content-Type"), "text/plain");
    EXPECT_EQ(r->header("X-Method"), "GET");
    EXPECT_TRUE(is_imf_fixdate(r->header("Date"))) << r->header("Date");
    EXPECT_EQ(r->header("Server").rfind("almanac/", 0), 0u) << r->header("Server");
    EXPECT_FALSE(r->has("Connection"));
}

TEST_F(HttpServerTest, HeadHasContentLengthButNoBody) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send("HEAD /x HTTP/1.1\r\nHost: test\r\n\r\n"));
    const auto head = c.read_reply(true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200u);
    EXPECT_EQ(head->header("Content-Length"), "9");  // "target=/x"
    EXPECT_EQ(head->header("X-Method"), "HEAD");
    // Body bytes after the HEAD header would show up as garbage before the next status line.
    ASSERT_TRUE(c.send(get("/y")));
    const auto next = c.read_reply();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200u);
    EXPECT_EQ(next->body, "target=/y");
}

TEST_F(HttpServerTest, NotModifiedHasNoContentLengthAndKeepsTheConnection) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/not-modified")));
    const auto reply = c.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 304u);
    EXPECT_FALSE(reply->has("content-length"));
    EXPECT_EQ(reply->header("ETag"), "\"x\"");
    ASSERT_TRUE(c.send(get("/after")));
    const auto next = c.read_reply();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "target=/after");
}

// GET, HEAD, GET of another target and GET again of `target` on one kept-alive connection: the
// body is `expected` whole, with its Content-Length, both times, and HEAD sends none of it.
void expect_body_whole_and_not_for_head(int port, const std::string& target, const std::string& expected) {
    Client c(port);
    ASSERT_TRUE(c.send(get(target) + "HEAD " + target + " HTTP/1.1\r\nHost: test\r\n\r\n" + get("/small") + get(target)));
    const auto first = c.read_reply();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->header("Content-Length"), std::to_string(expected.size()));
    EXPECT_TRUE(first->body == expected) << "the body differs (" << first->body.size() << " bytes, starting "
                                         << first->body.substr(0, 20) << ")";
    const auto head = c.read_reply(true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200u);
    EXPECT_EQ(head->header("Content-Length"), std::to_string(expected.size()));
    const auto small = c.read_reply();  // no body bytes of HEAD came before it
    ASSERT_TRUE(small);
    EXPECT_EQ(small->body, "target=/small");
    const auto again = c.read_reply();
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->body == expected);
    EXPECT_TRUE(c.unread().empty()) << c.unread().size() << " bytes after the last response";
}

// The pieces go out as their concatenation.
TEST_F(HttpServerTest, ABodyOfManyPiecesIsSentWholeAndInOrder) {
    start();
    const auto rope = many_pieces();
    ASSERT_GT(rope->pieces().size(), 1000u);
    expect_body_whole_and_not_for_head(port_, "/pieces", rope->str());
}

// A body in a sealed file goes out from the file: its bytes, not the rope's.
TEST_F(HttpServerTest, ABodyInASealedFileIsSentFromTheFile) {
    start();
    ASSERT_TRUE(sealed_body().file) << "no sealed file: memfd_create or its seals are refused here";
    expect_body_whole_and_not_for_head(port_, "/sealed", sealed_body().file_bytes);
}

// A client whose receive buffer is small and who waits before reading fills the socket: sendfile
// stops, the server waits for room and goes on where it stopped, for two responses in a row.
TEST_F(HttpServerTest, ASlowReaderGetsAllOfASealedFile) {
    start();
    const std::string& expected = sealed_body().file_bytes;
    Client c(port_, 4096);
    ASSERT_TRUE(c.send(get("/sealed") + get("/sealed")));
    std::this_thread::sleep_for(300ms);
    for (int i = 0; i < 2; ++i) {
        const auto reply = c.read_reply(false, 10s);
        ASSERT_TRUE(reply) << "response " << i;
        EXPECT_TRUE(reply->body == expected) << "response " << i << " differs (" << reply->body.size() << " bytes)";
    }
    EXPECT_TRUE(c.unread().empty());
}

// Clients that reset the connection at every moment of a sealed body end their own connection only:
// the next client gets the whole body. (sendfile has no MSG_NOSIGNAL, so a write to a reset socket
// would raise SIGPIPE and end the process unless the server ignores it.)
TEST_F(HttpServerTest, ResetsDuringSealedBodiesDoNotKillTheServer) {
    start();
    for (int i = 0; i < 40; ++i) {
        Client c(port_, 4096);
        ASSERT_TRUE(c.send(get("/sealed") + get("/sealed")));
        std::this_thread::sleep_for(std::chrono::microseconds(500 * (i % 8)));
        linger reset{1, 0};  // close() sends RST at once
        ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    Client c(port_);
    ASSERT_TRUE(c.send(get("/sealed")));
    const auto reply = c.read_reply(false, 10s);
    ASSERT_TRUE(reply);
    EXPECT_TRUE(reply->body == sealed_body().file_bytes);
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/one")));
    const auto first = c.read_reply();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->body, "target=/one");
    ASSERT_TRUE(c.send(get("/two")));
    const auto second = c.read_reply();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->body, "target=/two");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/a") + "HEAD /b HTTP/1.1\r\nHost: test\r\n\r\n" + get("/c")));
    const auto a = c.read_reply();
    const auto b = c.read_reply(true);
    const auto cc = c.read_reply();
    ASSERT_TRUE(a && b && cc);
    EXPECT_EQ(a->body, "target=/a");
    EXPECT_EQ(b->header("X-Method"), "HEAD");
    EXPECT_EQ(b->header("Content-Length"), "9");
    EXPECT_EQ(cc->body, "target=/c");
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "target=/old");
    EXPECT_TRUE(c.closed_within());

    Client k(port_);
    ASSERT_TRUE(k.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto first = k.read_reply();
    ASSERT_TRUE(first);
    EXPECT_EQ(lower(first->header("Connection")), "keep-alive");
    ASSERT_TRUE(k.send("GET /2 HTTP/1.0\r\n\r\n"));
    const auto second = k.read_reply();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->body, "target=/2");
    EXPECT_TRUE(k.closed_within());
}

TEST_F(HttpServerTest, RepeatedFieldsAreJoined) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/x",
                           "If-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\nAccept-Encoding: gzip\r\n"
                           "Accept-Encoding: br\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("X-If-None-Match"), "\"a\", \"b\"");
    EXPECT_EQ(r->header("X-Accept-Encoding"), "gzip, br");
    EXPECT_EQ(r->header("X-If-Modified-Since"), "Sun, 06 Nov 1994 08:49:37 GMT");
}

// A connection keeps one block for its requests' fields and gives it back between requests: a
// request with more fields than fit (the last ones on the heap), then small and large ones in turn
// on the same connection, each answered from its own fields alone.
TEST_F(HttpServerTest, ManyAndLargeFieldsOnOneConnectionAreEachRequestsOwn) {
    start();
    Client c(port_);
    for (int round = 0; round < 6; ++round) {
        std::string fields;
        const int count = round % 2 == 0 ? 120 : 1;
        for (int i = 0; i < count; ++i)
            fields += "X-Filler-" + std::to_string(i) + ": " + std::string(static_cast<std::size_t>(40 + i), 'a' + i % 26) + "\r\n";
        const std::string tag = "\"r" + std::to_string(round) + "\"";
        fields += "If-None-Match: " + tag + "\r\nAccept-Encoding: gzip;q=" + std::to_string(round) + "\r\n";
        ASSERT_TRUE(c.send(get("/r" + std::to_string(round), fields)));
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << round;
        EXPECT_EQ(r->body, "target=/r" + std::to_string(round));
        EXPECT_EQ(r->header("X-If-None-Match"), tag);
        EXPECT_EQ(r->header("X-Accept-Encoding"), "gzip;q=" + std::to_string(round));
    }
}

TEST_F(HttpServerTest, BodyOfGetIsReadAndIgnored) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/x", "Content-Length: 5\r\n") + "hello" + get("/y")));
    const auto x = c.read_reply();
    const auto y = c.read_reply();
    ASSERT_TRUE(x && y);
    EXPECT_EQ(x->body, "target=/x");
    EXPECT_EQ(y->body, "target=/y");
}

TEST_F(HttpServerTest, OversizedHeaderGets431AndClose) {
    ServerLimits limits;
    limits.max_header_bytes = 1024;
    start(limits);
    Client c(port_);
    ASSERT_TRUE(c.send(get("/x", "X-Big: " + std::string(4000, 'a') + "\r\n")));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431u);
    EXPECT_EQ(lower(r->header("Connection")), "close");
    EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_FALSE(r->body.empty());
    EXPECT_EQ(r->body.find('\n'), r->body.size() - 1);  // one line
    EXPECT_TRUE(c.closed_within());
    EXPECT_TRUE(eventually([&] { return observed("other", 431) == 1; }));
}

TEST_F(HttpServerTest, SetLimitsAppliesToNewRequests) {
    start();
    const std::string big = get("/x", "X-Big: " + std::string(4000, 'a') + "\r\n");
    Client before(port_);
    ASSERT_TRUE(before.send(big));
    const auto ok = before.read_reply();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200u);

    ServerLimits limits;
    limits.max_header_bytes = 1024;
    server_->set_limits(limits);
    Client after(port_);
    ASSERT_TRUE(after.send(big));
    const auto refused = after.read_reply();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 431u);
}

TEST_F(HttpServerTest, MalformedRequestGets400AndClose) {
    start();
    for (const std::string bad : {"NOT A REQUEST\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/1.1\r\nbad header\r\n\r\n"}) {
        Client c(port_);
        ASSERT_TRUE(c.send(bad));
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << bad;
        EXPECT_EQ(r->status, 400u) << bad;
        EXPECT_EQ(r->body, "malformed request\n");
        EXPECT_TRUE(c.closed_within()) << bad;
    }
    EXPECT_TRUE(eventually([&] { return observed("other", 400) == 3; }));
}

TEST_F(HttpServerTest, TransferCodingOtherThanChunkedLastGets400AndClose) {
    // RFC 9112 §6.3: without chunked last, the body's length is unknown; a proxy in front may have
    // framed it differently (request smuggling). "gzip, chunked" is fine: chunked frames it.
    start();
    for (const std::string coding : {"zip", "chunked, gzip", "identity"}) {
        Client c(port_);
        ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: " + coding + "\r\n\r\n" + get("/y")));
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << coding;
        EXPECT_EQ(r->status, 400u) << coding;
        EXPECT_TRUE(c.closed_within()) << coding;
    }
    Client chunked(port_);
    ASSERT_TRUE(chunked.send(
        "GET /x HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n"));
    const auto ok = chunked.read_reply();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200u);
}

// RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host field with a valid value; HTTP/1.0 may go
// without, but not have two.
TEST_F(HttpServerTest, HostIsRequiredOnceAndValid) {
    start();
    const std::string refused[] = {
        "GET /x HTTP/1.1\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a/b\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: user@a\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a:80x\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a:80:80\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: [::1\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: [a b]\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a%zz\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: \"a\"\r\n\r\n",
    };
    for (const auto& request : refused) {
        Client c(port_);
        ASSERT_TRUE(c.send(request));
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << request;
        EXPECT_EQ(r->status, 400u) << request;
        EXPECT_NE(r->body.find("Host"), std::string::npos) << r->body;
        EXPECT_TRUE(c.closed_within()) << request;
    }
    const std::string hosts[] = {"example.org", "example.org:8080", "127.0.0.1:80", "[::1]:8080", "[v1.x]", "",
                                 "xn--caf-dma.example", "a%41b", "a:"};
    Client c(port_);
    for (const auto& host : hosts) {
        ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n")) << host;
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << host;
        EXPECT_EQ(r->status, 200u) << host;
    }
    ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
    const auto old = c.read_reply();
    ASSERT_TRUE(old);
    EXPECT_EQ(old->status, 200u);
}

// RFC 9112 §6.1: HTTP/1.0 has no transfer codings, so a proxy in front may have framed the body
// otherwise. The request is refused without waiting for a body, and the connection closed.
TEST_F(HttpServerTest, Http10WithTransferEncodingGets400AndClose) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(
        "GET /x HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\nGET /y HTTP/1.0\r\n\r\n"));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400u);
    EXPECT_TRUE(c.closed_within());
    EXPECT_EQ(c.unread(), "");  // /y was not answered

    Client open(port_);  // a chunk never finished: the answer does not wait for it
    ASSERT_TRUE(open.send("GET /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"));
    const auto early = open.read_reply();
    ASSERT_TRUE(early);
    EXPECT_EQ(early->status, 400u);
}

// A client that sends "Expect: 100-continue" waits for a 100 before its body: it gets the final answer
// at once instead, and the connection is closed, since its body may follow or not (RFC 9110 §10.1.1).
TEST_F(HttpServerTest, ExpectContinueIsAnsweredAtOnceAndCloses) {
    ServerLimits limits;
    limits.header_timeout_seconds = 30;  // far beyond read_reply()'s 3 s
    start(limits);
    Client c(port_);
    ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);  // this handler answers every method
    EXPECT_EQ(r->header("X-Method"), "POST");
    EXPECT_EQ(lower(r->header("Connection")), "close");
    ASSERT_TRUE(c.send("0123456789"));  // a client that sends its body anyway does not get a reset
    EXPECT_TRUE(c.closed_within());
    EXPECT_EQ(c.unread(), "");

    Client sent(port_);  // the body is already here: an ordinary request, kept alive
    ASSERT_TRUE(sent.send("POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc" +
                          get("/y")));
    const auto x = sent.read_reply();
    const auto y = sent.read_reply();
    ASSERT_TRUE(x && y);
    EXPECT_EQ(x->status, 200u);
    EXPECT_EQ(y->body, "target=/y");
}

// RFC 9112 §3: a request line longer than the server accepts gets 414; 431 is for the fields.
TEST_F(HttpServerTest, OverlongRequestLineGets414) {
    ServerLimits limits;
    limits.max_header_bytes = 1024;
    start(limits);
    Client c(port_);
    ASSERT_TRUE(c.send(get("/" + std::string(4000, 'a'))));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 414u);
    EXPECT_TRUE(c.closed_within());
    EXPECT_TRUE(eventually([&] { return observed("other", 414) == 1; }));

    // The request line arrives before the rest, which is too large: the fields are at fault.
    Client split(port_);
    ASSERT_TRUE(split.send("GET /x HTT"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(split.send("P/1.1\r\nHost: test\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n"));
    const auto fields = split.read_reply();
    ASSERT_TRUE(fields);
    EXPECT_EQ(fields->status, 431u);
}

// RFC 9112 §2.2: empty lines before a request line are ignored, on a new connection, between kept-alive
// requests, pipelined, and split between reads.
TEST_F(HttpServerTest, EmptyLinesBeforeARequestAreIgnored) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send("\r\n\r\n" + get("/a")));
    const auto a = c.read_reply();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body, "target=/a");
    ASSERT_TRUE(c.send("\r\n" + get("/b") + "\r\n" + get("/c")));
    const auto b = c.read_reply();
    const auto cc = c.read_reply();
    ASSERT_TRUE(b && cc);
    EXPECT_EQ(b->body, "target=/b");
    EXPECT_EQ(cc->body, "target=/c");
    ASSERT_TRUE(c.send("\r"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(c.send("\n\r"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(c.send("\n" + get("/d")));
    const auto d = c.read_reply();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "target=/d");

    Client garbage(port_);  // a CR that begins no empty line is still malformed
    ASSERT_TRUE(garbage.send("\rGET /x HTTP/1.1\r\nHost: test\r\n\r\n"));
    const auto bad = garbage.read_reply();
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400u);
}

// Empty lines alone do not begin a request: the connection is closed silently when its wait ends, as
// if nothing had come, rather than with a 408 after the header timeout.
TEST_F(HttpServerTest, EmptyLinesAloneAreNotARequest) {
    ServerLimits limits;
    limits.header_timeout_seconds = 1;
    start(limits);
    Client c(port_);
    ASSERT_TRUE(c.send("\r\n\r\n"));
    EXPECT_TRUE(c.closed_within(4s));
    EXPECT_EQ(c.unread(), "");
}

// RFC 9110 §2.5: a later HTTP/1.x minor version is answered as 1.1; another major version is refused.
TEST_F(HttpServerTest, LaterMinorVersionsAreAnsweredAs11) {
    start();
    Client c(port_);
    for (const std::string version : {"1.2", "1.9"}) {
        ASSERT_TRUE(c.send("GET /v HTTP/" + version + "\r\nHost: test\r\n\r\n"));
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << version;
        EXPECT_EQ(r->status, 200u) << version;
        EXPECT_EQ(r->body, "target=/v");
        EXPECT_FALSE(r->has("Connection")) << "kept alive as 1.1";
    }
    for (const std::string bad : {"GET /v HTTP/2.0\r\nHost: test\r\n\r\n", "GET /v HTTP/1.10\r\nHost: test\r\n\r\n",
                                  "GET /v HTTP/0.9\r\n\r\n", "GET /v HTTP/1.2 \r\nHost: test\r\n\r\n"}) {
        Client refused(port_);
        ASSERT_TRUE(refused.send(bad));
        const auto r = refused.read_reply();
        ASSERT_TRUE(r) << bad;
        EXPECT_EQ(r->status, 400u) << bad;
    }
}

// RFC 9112 §6.3: Content-Length repeated with the same value, in one field or several, is that value;
// different values are an error.
TEST_F(HttpServerTest, RepeatedIdenticalContentLengthIsThatLength) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/x", "Content-Length: 3\r\nContent-Length: 3\r\n") + "abc" +
                       get("/y", "Content-Length: 2, 2\r\n") + "de" + get("/z")));
    for (const char* target : {"/x", "/y", "/z"}) {
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << target;
        EXPECT_EQ(r->body, std::string("target=") + target);
    }
    for (const std::string lengths : {"Content-Length: 3\r\nContent-Length: 2\r\n", "Content-Length: 3, 2\r\n"}) {
        Client refused(port_);
        ASSERT_TRUE(refused.send(get("/x", lengths) + "abc"));
        const auto r = refused.read_reply();
        ASSERT_TRUE(r) << lengths;
        EXPECT_EQ(r->status, 400u) << lengths;
    }
}

// Browser code may read the server's own refusals: they may answer a request for a feed.
TEST_F(HttpServerTest, TheServersOwnAnswersAllowAnyOrigin) {
    ServerLimits limits;
    limits.max_header_bytes = 1024;
    start(limits);
    for (const auto& request : {std::string("GET /x HTTP/1.1\r\n\r\n"), get("/" + std::string(2000, 'a'))}) {
        Client c(port_);
        ASSERT_TRUE(c.send(request));
        const auto r = c.read_reply();
        ASSERT_TRUE(r);
        EXPECT_GE(r->status, 400u);
        EXPECT_EQ(r->header("Access-Control-Allow-Origin"), "*");
    }
}

// The handler sees Access-Control-Request-Method on OPTIONS (a CORS preflight), and only there.
TEST_F(HttpServerTest, PreflightFieldReachesTheHandlerForOptionsOnly) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send("OPTIONS /x HTTP/1.1\r\nHost: test\r\nAccess-Control-Request-Method: GET\r\n\r\n" +
                       get("/y", "Access-Control-Request-Method: GET\r\n")));
    const auto options = c.read_reply();
    const auto plain_get = c.read_reply();
    ASSERT_TRUE(options && plain_get);
    EXPECT_EQ(options->header("X-Request-Method"), "GET");
    EXPECT_EQ(plain_get->header("X-Request-Method"), "");
}

TEST_F(HttpServerTest, LargeBodyGets413) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'x')));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413u);
    EXPECT_TRUE(c.closed_within());
}

TEST_F(HttpServerTest, HeaderTimeoutAnswers408AndCloses) {
    ServerLimits limits;
    limits.header_timeout_seconds = 1;
    start(limits);
    Client c(port_);
    const auto begun = Clock::now();
    ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: te"));
    const auto r = c.read_reply(false, 4s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408u);
    EXPECT_TRUE(c.closed_within());
    EXPECT_GE(Clock::now() - begun, 900ms);
    EXPECT_TRUE(eventually([&] { return observed("other", 408) == 1; }));
}

TEST_F(HttpServerTest, SilentNewConnectionIsClosedAfterHeaderTimeout) {
    ServerLimits limits;
    limits.header_timeout_seconds = 1;
    start(limits);
    Client c(port_);
    EXPECT_TRUE(c.closed_within(4s));
    EXPECT_EQ(c.unread(), "");  // nothing had begun: no 408
}

TEST_F(HttpServerTest, IdleTimeoutClosesKeptAliveConnection) {
    ServerLimits limits;
    limits.idle_timeout_seconds = 1;
    start(limits);
    Client c(port_);
    ASSERT_TRUE(c.send(get("/x")));
    ASSERT_TRUE(c.read_reply());
    const auto answered = Clock::now();
    EXPECT_TRUE(c.closed_within(4s));
    EXPECT_GE(Clock::now() - answered, 900ms);
    EXPECT_EQ(c.unread(), "");
}

TEST_F(HttpServerTest, ConnectionCapAnswers503) {
    ServerLimits limits;
    limits.max_connections = 2;
    start(limits);
    Client a(port_), b(port_);
    for (Client* c : {&a, &b}) {
        ASSERT_TRUE(c->send(get("/x")));
        ASSERT_TRUE(c->read_reply());
    }
    EXPECT_EQ(server_->open_connections(), 2u);

    Client refused(port_);
    ASSERT_TRUE(refused.send(get("/x")));
    const auto r = refused.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503u);
    EXPECT_EQ(r->header("Retry-After"), "1");
    EXPECT_TRUE(refused.closed_within());
    EXPECT_TRUE(eventually([&] { return observed("other", 503) == 1; }));
    EXPECT_EQ(server_->open_connections(), 2u);

    a.close();
    ASSERT_TRUE(eventually([&] { return server_->open_connections() == 1; }));
    Client again(port_);
    ASSERT_TRUE(again.send(get("/y")));
    const auto ok = again.read_reply();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200u);
}

TEST_F(HttpServerTest, HandlerExceptionGives500AndKeepsConnection) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/throw")));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500u);
    EXPECT_EQ(r->body, "internal error\n");
    ASSERT_TRUE(c.send(get("/after")));
    const auto next = c.read_reply();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "target=/after");
    EXPECT_TRUE(eventually([&] { return observed("other", 500) == 1 && observed("feed", 200) == 1; }));
}

TEST_F(HttpServerTest, HeaderFieldsThatWouldSplitTheHeaderGive500) {
    start();
    Client c(port_);
    for (const std::string target : {"/bad-value", "/bad-name"}) {
        ASSERT_TRUE(c.send(get(target)));
        const auto r = c.read_reply();
        ASSERT_TRUE(r) << target;
        EXPECT_EQ(r->status, 500u) << target;
        EXPECT_EQ(r->body, "internal error\n") << target;
        EXPECT_FALSE(r->has("X-Injected")) << target;
        EXPECT_FALSE(r->has("X-Fine")) << target;
    }
    ASSERT_TRUE(c.send(get("/after")));
    const auto next = c.read_reply();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "target=/after");
    EXPECT_TRUE(eventually([&] { return observed("other", 500) == 2; }));
}

TEST_F(HttpServerTest, ObserverCountsEveryResponse) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/1") + get("/2") + get("/3")));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.read_reply());
    Client bad(port_);
    ASSERT_TRUE(bad.send("BAD\r\n\r\n"));
    ASSERT_TRUE(bad.read_reply());
    EXPECT_TRUE(eventually([&] { return observed("feed", 200) == 3 && observed("other", 400) == 1; }));
}

TEST_F(HttpServerTest, ListenOnPortInUseThrowsNamingTheAddress) {
    start();
    const std::string address = "127.0.0.1:" + std::to_string(port_);
    HttpServer other(
        ioc_, {}, {}, [](const Request&) { return Response{}; }, nullptr, false);
    try {
        other.listen(address);
        FAIL() << "listen succeeded on a port in use";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(address), std::string::npos) << what;
        EXPECT_NE(lower(what).find("in use"), std::string::npos) << what;
    }
}

TEST_F(HttpServerTest, ListenParsesAddresses) {
    make_server();
    EXPECT_THROW(server_->listen("nonsense"), std::runtime_error);
    EXPECT_THROW(server_->listen("127.0.0.1:http"), std::runtime_error);
    EXPECT_THROW(server_->listen("127.0.0.1:70000"), std::runtime_error);
    EXPECT_THROW(server_->listen(":8080"), std::runtime_error);

    const auto local = server_->listen("localhost:0");
    EXPECT_NE(local.rfind(":0"), local.size() - 2) << local;
    try {
        const auto v6 = server_->listen("[::1]:0");
        EXPECT_EQ(v6.rfind("[::1]:", 0), 0u) << v6;
        EXPECT_NE(v6, "[::1]:0");
    } catch (const std::runtime_error& e) {
        std::cerr << "no IPv6 loopback here: " << e.what() << "\n";
    }
    run();
    Client c(std::stoi(local.substr(local.rfind(':') + 1)));
    ASSERT_TRUE(c.send(get("/local")));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "target=/local");
}

TEST_F(HttpServerTest, DrainClosesIdleConnectionsAndCallsDone) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/x")));
    ASSERT_TRUE(c.read_reply());
    std::atomic<int> done{0};
    server_->drain(10s, [&] { ++done; });
    EXPECT_TRUE(c.closed_within());
    EXPECT_TRUE(eventually([&] { return done == 1; }));
    EXPECT_TRUE(eventually([&] { return !Client(port_).connected(); })) << "still accepting";
    EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, DrainWithoutConnectionsCallsDoneOnce) {
    start();
    std::atomic<int> done{0};
    server_->drain(10s, [&] { ++done; });
    EXPECT_TRUE(eventually([&] { return done == 1; }));
    std::this_thread::sleep_for(50ms);  // a second call would come right after the first
    EXPECT_EQ(done, 1);
}

TEST_F(HttpServerTest, DrainFinishesTheResponseInProgress) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/slow")));
    ASSERT_TRUE(eventually([&] { return slow_entered_ == 1; }));
    std::atomic<int> done{0};
    server_->drain(10s, [&] { ++done; });
    release_ = true;
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "target=/slow");
    EXPECT_EQ(lower(r->header("Connection")), "close");
    EXPECT_TRUE(c.closed_within());
    EXPECT_TRUE(eventually([&] { return done == 1; }));
}

TEST_F(HttpServerTest, ConnectionsAreSpreadOverTheContextsAndAllDrain) {
    start();
    const std::set<std::string> io_threads{thread_name(threads_[1].get_id()), thread_name(threads_[2].get_id())};
    std::vector<std::unique_ptr<Client>> clients;
    std::set<std::string> served_by;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(std::make_unique<Client>(port_));
        ASSERT_TRUE(clients.back()->send(get("/thread")));
        const auto r = clients.back()->read_reply();
        ASSERT_TRUE(r);
        served_by.insert(r->header("X-Thread"));
    }
    EXPECT_EQ(served_by, io_threads);
    EXPECT_EQ(server_->open_connections(), 4u);
    std::atomic<int> done{0};
    server_->drain(10s, [&] { ++done; });
    for (const auto& c : clients) EXPECT_TRUE(c->closed_within());
    EXPECT_TRUE(eventually([&] { return done == 1; }));
    EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, ASlowHandlerHoldsUpOnlyTheConnectionsOfItsOwnContext) {
    start();
    Client slow(port_);  // the first context
    ASSERT_TRUE(slow.send(get("/slow")));
    ASSERT_TRUE(eventually([&] { return slow_entered_ == 1; }));
    Client other(port_);  // the second
    ASSERT_TRUE(other.send(get("/other")));
    const auto r = other.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "target=/other");
    release_ = true;
    const auto late = slow.read_reply();
    ASSERT_TRUE(late);
    EXPECT_EQ(late->body, "target=/slow");
}

TEST_F(HttpServerTest, DrainDeadlineClosesStuckConnections) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/slow")));  // the handler blocks until release_
    ASSERT_TRUE(eventually([&] { return slow_entered_ == 1; }));
    std::atomic<int> done{0};
    const auto begun = Clock::now();
    server_->drain(300ms, [&] { ++done; });
    EXPECT_TRUE(eventually([&] { return done == 1; }));
    EXPECT_GE(Clock::now() - begun, 250ms);
    release_ = true;
    EXPECT_TRUE(c.closed_within());
    std::this_thread::sleep_for(50ms);  // a late second call would come right after
    EXPECT_EQ(done, 1);
}

TEST_F(HttpServerTest, DestroyingTheServerAbandonsAPendingDrain) {
    start();
    Client c(port_);
    ASSERT_TRUE(c.send(get("/slow")));
    ASSERT_TRUE(eventually([&] { return slow_entered_ == 1; }));
    std::atomic<int> done{0};
    server_->drain(200ms, [&] { ++done; });
    server_.reset();
    release_ = true;
    EXPECT_TRUE(c.closed_within());
    std::this_thread::sleep_for(400ms);  // past the deadline the drain had
    EXPECT_EQ(done, 0);
}

TEST_F(HttpServerTest, AdoptServesOnAnInheritedSocket) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    auto addr = loopback(0);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 16), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const int port = ntohs(addr.sin_port);

    make_server();
    EXPECT_EQ(server_->adopt(fd), "127.0.0.1:" + std::to_string(port));
    run();
    Client c(port);
    ASSERT_TRUE(c.send(get("/adopted")));
    const auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "target=/adopted");
}

TEST_F(HttpServerTest, AdoptRefusesASocketThatIsNotListening) {
    make_server();
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    EXPECT_THROW(server_->adopt(fd), std::runtime_error);
    ::close(fd);
    EXPECT_THROW(server_->adopt(-1), std::runtime_error);
}

// Runs in a child process and never returns: a server whose process may open only 256 files (the hard
// limit too, so it cannot raise it) with the default max_connections of 10000. It writes its port to
// `port_fd`, then opens and closes a file every 10 ms, as a rebuild would, until `done_fd` closes;
// the exit status is 0 when every one of those opens worked.
[[noreturn]] void serve_with_few_descriptors(int port_fd, int done_fd) {
    const rlimit limit{256, 256};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(2);
    boost::asio::io_context ioc{1}, connections{1};
    auto work = boost::asio::make_work_guard(ioc);
    auto connections_work = boost::asio::make_work_guard(connections);
    HttpServer server(
        ioc, {connections}, ServerLimits{},
        [](const Request&) {
            Response r;
            r.body = std::make_shared<const std::string>("ok");
            return r;
        },
        nullptr, false);
    const auto bound = server.listen("127.0.0.1:0");
    const int port = std::stoi(bound.substr(bound.rfind(':') + 1));
    std::thread one([&] { ioc.run(); });
    std::thread two([&] { connections.run(); });
    if (::write(port_fd, &port, sizeof port) != sizeof port) ::_exit(2);
    int failures = 0;
    for (const auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
        pollfd done{done_fd, POLLIN, 0};
        if (::poll(&done, 1, 10) > 0) break;
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) ++failures;
        else ::close(fd);
    }
    ::_exit(failures == 0 ? 0 : 1);
}

TEST(HttpServerDescriptors, AFloodNeitherHangsClientsNorTakesTheDaemonsDescriptors) {
    // With the open-file limit below max_connections, accepting until EMFILE left clients in the
    // kernel's backlog without an answer, and left the rest of the daemon without a descriptor.
    int ports[2], done[2];
    ASSERT_EQ(::pipe2(ports, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(done, O_CLOEXEC), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(ports[0]);
        ::close(done[1]);
        serve_with_few_descriptors(ports[1], done[0]);
    }
    ::close(ports[1]);
    ::close(done[0]);
    int port = 0;
    pollfd ready{ports[0], POLLIN, 0};
    const bool started = ::poll(&ready, 1, 10'000) > 0 && ::read(ports[0], &port, sizeof port) == sizeof port;
    ::close(ports[0]);

    std::vector<std::unique_ptr<Client>> clients;
    std::map<std::string, int> answers;  // "200", "503", "closed", "silent"
    if (started) {
        for (int i = 0; i < 400; ++i) {
            clients.push_back(std::make_unique<Client>(port));
            if (clients.back()->connected()) clients.back()->send(get("/x"));
        }
        // Every client hears something within seconds: 200 (admitted), 503 (refused) or the close.
        std::vector<Client*> waiting;
        for (const auto& c : clients) c->connected() ? waiting.push_back(c.get()) : void(++answers["closed"]);
        for (const auto deadline = Clock::now() + 5s; !waiting.empty() && Clock::now() < deadline;) {
            std::vector<pollfd> fds;
            for (const auto* c : waiting) fds.push_back({c->fd(), POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
            std::vector<Client*> still;
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if (fds[i].revents == 0) {
                    still.push_back(waiting[i]);
                    continue;
                }
                char head[12] = {};
                const auto n = ::recv(fds[i].fd, head, sizeof head, 0);
                ++answers[n >= 12 ? std::string(head + 9, 3) : "closed"];
            }
            waiting = std::move(still);
        }
        answers["silent"] = static_cast<int>(waiting.size());
    }
    ::close(done[1]);
    int status = -1;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(started) << "the server in the child process did not start";
    EXPECT_EQ(answers["silent"], 0) << "clients left without an answer";
    EXPECT_GT(answers["200"], 0);
    EXPECT_GT(answers["503"], 0) << "the connection cap must answer 503 before descriptors run out";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the server's process ran out of descriptors";
}

}  // namespace
}  // namespace almanac
