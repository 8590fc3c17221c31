// RSS 2.0, Atom 1.0 (RFC 4287) and JSON Feed 1.1 documents for posts and events (SPEC §4.2).
#pragma once

#include <string>

#include "feeds/render.hpp"

namespace almanac {

Rope render_rss(const RenderRequest& request);
Rope render_atom(const RenderRequest& request);
Rope render_json_feed(const RenderRequest& request);

}  // namespace almanac
