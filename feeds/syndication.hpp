// RSS 2.0, Atom 1.0 (RFC 4287) and JSON Feed 1.1 documents for posts and events (SPEC §4.2).
#pragma once

#include <string>

#include "feeds/render.hpp"

namespace almanac {

Rope render_rss(const RenderRequest& request);
Rope render_atom(const RenderRequest& request);
Rope render_json_feed(const RenderRequest& request);

// The same documents in several views at once, streamed (ViewsRenderer): an event's body is escaped
// once for all of them.
void render_rss_views(const std::vector<RenderRequest>& requests);
void render_atom_views(const std::vector<RenderRequest>& requests);
void render_json_feed_views(const std::vector<RenderRequest>& requests);

}  // namespace almanac
