// RSS 2.0, Atom 1.0 (RFC 4287) and JSON Feed 1.1 documents for posts and events (SPEC §4.2).
#pragma once

#include <string>

#include "feeds/render.hpp"

namespace almanac {

Rope render_rss(const RenderRequest& request);
Rope render_atom(const RenderRequest& request);
Rope render_json_feed(const RenderRequest& request);

// A feed's RSS, Atom and JSON Feed documents in several views at once, streamed (ViewsRenderer): each
// out receives what the format's renderer gives for its request; what views and formats share (an
// event's "when and where" text in a zone, its escaped body) is made once.
void render_syndication_views(const std::vector<FormatViews>& formats);

}  // namespace almanac
