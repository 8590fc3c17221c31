// The request handler (SPEC §5): a function of the live snapshot and one request, the only place
// that knows the routes. Feeds, zone views (/tz/… and ?tz=), filters, the index page, /healthz and
// /metrics; conditional GET and content negotiation. Request paths never reach the file system.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "daemon/http_types.hpp"
#include "daemon/metrics.hpp"
#include "daemon/snapshot.hpp"

namespace almanac {

// The response to `request` from `snapshot`. Views not pre-rendered are rendered here and kept in
// snapshot.views. Never throws for any request bytes.
Response handle_request(const Snapshot& snapshot, const Request& request, const Metrics& metrics);

// An HTTP-date (IMF-fixdate, RFC 850 or asctime form, RFC 9110 §5.6.7), or nullopt.
std::optional<Instant> parse_http_date(std::string_view text);

// Which encoding to send given an Accept-Encoding value and what exists: "br", "gzip" or "" (identity).
std::string_view choose_encoding(std::string_view accept_encoding, bool have_gzip, bool have_brotli);

// True when an If-None-Match value (a list of entity tags, or "*") matches `etag` by the weak
// comparison RFC 9110 §13.1.2 prescribes for it.
bool etag_list_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace almanac
