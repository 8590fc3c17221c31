// A body of many shared pieces (a large document assembled from cached entries) goes out as the
// concatenation of its pieces, with the right Content-Length, on a kept-alive connection, and
// not at all for HEAD. A real server on a loopback port and a plain POSIX client with deadlines.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>

#include "daemon/http_server.hpp"

namespace almanac {
namespace {

using Clock = std::chrono::steady_clock;

// 3,000 pieces of different sizes (more than one gather write takes), 3 MB in all.
Rope big_rope() {
    RopeBuilder b;
    b.append("HEAD\n");
    for (int i = 0; i < 3000; ++i)
        b.share(std::make_shared<const std::string>("entry " + std::to_string(i) + " " + std::string(i % 2000, 'x') + "\n"));
    b.append("TAIL\n");
    return std::move(b).finish();
}

class Server {
public:
    explicit Server(std::shared_ptr<const Rope> body) {
        server_ = std::make_unique<HttpServer>(
            ioc_, std::vector<std::reference_wrapper<boost::asio::io_context>>{}, ServerLimits{},
            [body](const Request& request) {
                Response r;
                r.headers.emplace_back("Content-Type", "text/plain");
                r.body = request.target == "/small" ? Body(std::make_shared<const std::string>("small\n")) : Body(body);
                r.head = request.method == "HEAD";
                return r;
            },
            nullptr, false);
        const auto address = server_->listen("127.0.0.1:0");
        port_ = std::stoi(address.substr(address.rfind(':') + 1));
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~Server() {
        server_.reset();
        work_.reset();
        ioc_.stop();
        thread_.join();
    }
    int port() const { return port_; }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{ioc_.get_executor()};
    std::unique_ptr<HttpServer> server_;
    std::thread thread_;
    int port_ = 0;
};

// Sends `requests` on one connection and returns everything read until the server closes it
// (the last request says Connection: close), or until 10 s pass.
std::string exchange(int port, const std::string& requests) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return {};
    }
    (void)!::write(fd, requests.data(), requests.size());
    std::string out;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    char buf[65536];
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

// Splits one response off the front of `wire`: its head and `length` bytes of body.
std::pair<std::string, std::string> take_response(std::string& wire, bool has_body) {
    const auto end = wire.find("\r\n\r\n");
    if (end == std::string::npos) return {};
    std::string head = wire.substr(0, end);
    const auto at = head.find("Content-Length: ");
    const std::size_t length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
    const std::size_t body_length = has_body ? length : 0;
    std::string body = wire.substr(end + 4, body_length);
    wire.erase(0, end + 4 + body_length);
    return {head, body};
}

TEST(HttpBody, ManyPiecesAreSentWholeAndInOrder) {
    const auto rope = std::make_shared<const Rope>(big_rope());
    ASSERT_GT(rope->pieces().size(), 1000u);
    Server server(rope);
    std::string wire = exchange(server.port(),
                                "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"
                                "HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n"
                                "GET /small HTTP/1.1\r\nHost: t\r\n\r\n"
                                "GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    const std::string expected = rope->str();
    const auto [head1, body1] = take_response(wire, true);
    EXPECT_NE(head1.find("Content-Length: " + std::to_string(expected.size())), std::string::npos) << head1;
    EXPECT_TRUE(body1 == expected) << "the body differs from the rope's bytes (" << body1.size() << " bytes)";
    const auto [head2, body2] = take_response(wire, false);
    EXPECT_NE(head2.find("Content-Length: " + std::to_string(expected.size())), std::string::npos) << head2;
    EXPECT_EQ(head2.rfind("HTTP/1.1 200", 0), 0u) << head2;
    const auto [head3, body3] = take_response(wire, true);  // no body bytes of HEAD came before it
    EXPECT_EQ(head3.rfind("HTTP/1.1 200", 0), 0u) << head3;
    EXPECT_EQ(body3, "small\n");
    const auto [head4, body4] = take_response(wire, true);
    EXPECT_TRUE(body4 == expected);
    EXPECT_TRUE(wire.empty()) << wire.size() << " bytes after the last response";
}

}  // namespace
}  // namespace almanac
