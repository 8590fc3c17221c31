// The request and response the request handler sees: plain values with no Beast types, so the
// handler is a pure function of (snapshot, request) and the server only moves bytes.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace almanac {

struct Request {
    std::string method;  // "GET", "HEAD", … as sent
    std::string target;  // origin-form as sent: "/tz/Europe/Berlin/events.ics?tag=x"
    std::string if_none_match;
    std::string if_modified_since;
    std::string accept_encoding;
};

struct Response {
    unsigned status = 200;
    // Every header except Content-Length, Connection, Date and Server, which the server adds.
    std::vector<std::pair<std::string, std::string>> headers;
    // The representation's bytes (shared with the snapshot, never copied); null means empty. For HEAD
    // the server sends Content-Length of this body but not the body itself.
    std::shared_ptr<const std::string> body;
    bool head = false;
    std::string route;  // metrics label: "feed", "index", "healthz", "metrics", "other"
};

}  // namespace almanac
