// The HTTP/1.1 server (Boost.Beast on Asio): listening sockets, sessions that read requests and
// write responses with keep-alive and pipelining, the limits of SPEC §5, and a graceful drain.
// It knows nothing of feeds: every request goes to the handler it is given.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "daemon/http_types.hpp"
#include "feeds/site_config.hpp"

namespace almanac {

class HttpServer {
public:
    // Called on the connection's I/O thread for every request read in full; must be thread-safe and
    // must not throw (an exception is logged and answered with 500).
    using Handler = std::function<Response(const Request&)>;
    // Called once per response written, including the server's own 400/408/413/414/431/503 answers.
    using Observer = std::function<void(const std::string& route, unsigned status)>;

    // `ioc` runs the listening sockets and the drain deadline, and gets drain()'s `done`; connections are
    // handed to `connection_contexts` in turn (to `ioc` if there are none), so a handler that takes long
    // never delays accepting or the drain. Every context must be run by exactly one thread: a
    // connection's handlers then never run at once, without a strand.
    HttpServer(boost::asio::io_context& ioc,
               std::vector<std::reference_wrapper<boost::asio::io_context>> connection_contexts,
               const ServerLimits& limits, Handler handler, Observer observer, bool access_log);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens on "ADDR:PORT" ("127.0.0.1:8080", "[::1]:8080", "localhost:8080"; port 0 picks a
    // free port). Returns the bound address as "ADDR:PORT". Throws std::runtime_error naming the
    // address and the reason ("address already in use") when it cannot.
    std::string listen(const std::string& address);

    // Serves on an already listening TCP socket (systemd socket activation). Returns its address.
    std::string adopt(int listening_fd);

    // Limits for new connections after a config reload.
    void set_limits(const ServerLimits& limits);

    // Stops accepting, finishes the response in progress on each connection, closes idle ones, and
    // calls `done` (on `ioc`) once every session has ended or `deadline` has passed.
    void drain(std::chrono::milliseconds deadline, std::function<void()> done);

    std::size_t open_connections() const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace almanac
