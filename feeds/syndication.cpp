#include "feeds/syndication.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "feeds/content.hpp"
#include "feeds/byte_runs.hpp"
#include "feeds/event_text.hpp"
#include "feeds/text.hpp"
#include "feeds/xml_writer.hpp"

namespace almanac {

namespace {

constexpr std::string_view generator_name = "almanac";

// The zone event times are stated in: the view's, else the site's (validated when the config was
// loaded, so the UTC fallback only guards a hand-built config).
Zone view_zone(const RenderRequest& request) {
    if (request.view.zone) return *request.view.zone;
    if (auto zone = find_zone(request.site->config.site.timezone)) return *zone;
    return *find_zone("UTC");
}

std::string feed_title(const RenderRequest& request) {
    return request.feed->title.empty() ? request.site->config.site.title : request.feed->title;
}

// RSS requires a non-empty channel description.
std::string feed_description(const RenderRequest& request) {
    return request.feed->description.empty() ? feed_title(request) : request.feed->description;
}

// Atom requires an author on the feed or on every entry; the feed-level one covers entries without.
std::string feed_author(const RenderRequest& request) {
    const SiteInfo& site = request.site->config.site;
    return site.author.empty() ? site.title : site.author;
}

// The tagging entity of the site's tag: URIs: its host, lower case, without port. A host that is
// not a DNS name (an IPv6 address) is named by the reserved almanac.invalid.
std::string tag_authority(const SiteInfo& site) {
    const std::string with_port = site_host(site.base_url);
    const std::string_view rest = std::string_view(with_port).substr(0, with_port.find(':'));
    std::string host;
    for (const char c : rest) {
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (!((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') || lower == '-' || lower == '.'))
            return "almanac.invalid";
        host += lower;
    }
    return host.empty() ? "almanac.invalid" : host;
}

// "tag:" authority "," date ":" specific (RFC 4151), with specific's characters outside pchar, '/'
// and '?' percent-encoded.
std::string tag_uri(const SiteInfo& site, std::string_view specific) {
    static constexpr std::string_view hex = "0123456789ABCDEF";
    static constexpr std::string_view kept = "-._~!$&'()*+,;=:@/?";
    std::string id = "tag:" + tag_authority(site) + "," + site.id_date + ":";
    for (const char ch : specific) {
        const auto c = static_cast<unsigned char>(ch);
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (alnum || kept.find(ch) != std::string_view::npos) {
            id += ch;
        } else {
            id += '%';
            id += hex[c >> 4];
            id += hex[c & 0xF];
        }
    }
    return id;
}

// The entry id of every format (docs/feeds.md#ids): a tag: URI of the item's uid, which is stable
// across rebuilds, views and machines and unique in a site (assemble_site drops repeats), so the id
// never changes with a title, a date, a body or a permalink; or, where the site says its permalinks
// never move (site.ids: permalink), the permalink.
std::string entry_id(const Item& item, const SiteInfo& site) {
    if (site.ids == EntryIds::permalink && !item.permalink.empty()) return item.permalink;
    return tag_uri(site, item.uid);
}

// The id of a feed document: its path and query on the site, named like the entries. Each zone view
// and filter is a feed of its own; the id does not follow --base-url (site.documents_url).
std::string feed_id(const RenderRequest& request) {
    const SiteInfo& site = request.site->config.site;
    const std::string& base = site.documents_url.empty() ? site.base_url : site.documents_url;
    const std::string_view relative = std::string_view(request.self_url).substr(request.self_url.starts_with(base) ? base.size() : 0);
    if (site.ids == EntryIds::permalink) return site.base_url + std::string(relative);
    return tag_uri(site, relative);
}

// A cancelled event stays in the feed (so readers see the news), marked where everyone looks.
std::string entry_title(const Item& item) {
    if (item.event && item.event->status == EventStatus::cancelled) return "Cancelled: " + item.title;
    return item.title;
}

// Posts are published at their date. Events have no date of their own: their publishDate, else
// their lastmod once it has come, else the document's updated instant — never the wall clock (SPEC §4.3).
Instant entry_published(const Item& item, const RenderRequest& request) {
    if (item.type == SectionType::post && item.date) return *item.date;
    if (item.publish_date) return *item.publish_date;
    if (item.lastmod && *item.lastmod <= request.now) return *item.lastmod;
    return request.updated;
}

// Never before the publication (item_updated is the newest of the item's dates).
Instant entry_updated(const Item& item, const RenderRequest& request) {
    return std::max(item_updated(item, request.now).value_or(request.updated), entry_published(item, request));
}

// What an entry says alike in every view and format of a feed's pass (its request's `now` and
// `updated` are the same in all): made once per item when the views are written at once.
struct EntryCommon {
    std::string id;
    std::string title;
    std::vector<std::string> categories;
    Instant published;
    Instant updated;
};

EntryCommon entry_common(const Item& item, const RenderRequest& request) {
    return {entry_id(item, request.site->config.site), entry_title(item), item_categories(item), entry_published(item, request),
            entry_updated(item, request)};
}

// `text` HTML-escaped, appended to `out`.
void append_html_escaped(std::string& out, std::string_view text) {
    // Runs without a special character are copied whole, not byte by byte: summaries are mostly
    // such runs.
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; (i = run_end<false, false, '&', '<', '>', '"', '\''>(text, i)) < text.size(); ++i) {
        const char c = text[i];
        out.append(text.data() + run, i - run);
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += "&#39;"; break;
        }
        run = i + 1;
    }
    out.append(text.data() + run, text.size() - run);
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_html_escaped(out, text);
    return out;
}

// Calls fact(label, value, is_url) for each line of an event's "when and where" block, `when` being
// describe_event_when's; URL values become links in HTML.
template <class Fact>
void for_each_event_fact(const Event& event, std::string_view when, Fact&& fact) {
    if (event.status == EventStatus::cancelled) fact("Status", "cancelled", false);
    if (event.status == EventStatus::tentative) fact("Status", "tentative (not yet confirmed)", false);
    fact("When", when, false);
    if (!event.location.empty()) fact("Where", event.location, false);
    if (!event.online.empty()) fact("Online", event.online, true);
    if (!event.url.empty()) fact("Event page", event.url, true);
}

// What an entry says, in the forms the formats carry: plain-text summary, the same summary as HTML
// (RSS description), and the full HTML content. Events lead with their "when and where".
struct EntryText {
    std::string summary_text;
    std::string summary_html;
    std::string content_html;
};

// `with_body` false: an event's content is its facts alone (its body is written apart: stream_views).
EntryText entry_text(const Item& item, const Zone& zone, bool with_body = true) {
    if (!item.event) return {item.summary, html_escape(item.summary), item.html};
    // Each string appended to in place (this runs for every event in every view).
    const std::string when = describe_event_when(*item.event, zone);
    std::string facts_text;
    std::string facts_html = "<p>";
    facts_text.reserve(when.size() + 128);
    facts_html.reserve(when.size() + 160);
    for_each_event_fact(*item.event, when, [&](std::string_view label, std::string_view value, bool is_url) {
        if (!facts_text.empty()) {
            facts_text += '\n';
            facts_html += "<br>\n";
        }
        facts_text.append(label).append(": ").append(value);
        facts_html.append(label).append(": ");
        if (is_url) {
            const std::string escaped = html_escape(value);
            facts_html.append("<a href=\"").append(escaped).append("\">").append(escaped).append("</a>");
        } else {
            append_html_escaped(facts_html, value);
        }
    });
    facts_html += "</p>\n";
    EntryText text;
    text.summary_text = std::move(facts_text);
    if (item.summary.empty()) {
        text.summary_html = facts_html;
    } else {
        text.summary_text.append("\n\n").append(item.summary);
        text.summary_html.reserve(facts_html.size() + item.summary.size() + 16);
        text.summary_html.append(facts_html).append("<p>");
        append_html_escaped(text.summary_html, item.summary);
        text.summary_html.append("</p>\n");
    }
    if (with_body) {
        text.content_html.reserve(facts_html.size() + item.html.size());
        text.content_html.append(facts_html).append(item.html);
    } else {
        text.content_html = std::move(facts_html);
    }
    return text;
}

// A format's entry written into `out`, whose capacity is reused (rss_entry_into, atom_entry_into,
// json_entry_into).
using EntryInto = void (*)(std::string& out, const Item&, const EntryText&, const EntryCommon&);

// The entry's bytes on their own, for one request.
std::string entry_bytes(EntryInto into, const RenderRequest& request, const Item& item, const EntryText& text) {
    std::string out;
    into(out, item, text, entry_common(item, request));
    return out;
}

void write_rss_item(XmlWriter& xml, const Item& item, const EntryText& text, const EntryCommon& common) {
    xml.open("item");
    xml.text_element("title", common.title);
    xml.text_element("link", item.permalink);
    if (!text.summary_html.empty()) xml.text_element("description", text.summary_html);
    xml.text_element("content:encoded", text.content_html);
    for (const auto& author : item.authors) xml.text_element("dc:creator", author);
    for (const auto& category : common.categories) xml.text_element("category", category);
    xml.text_element("guid", common.id, {{"isPermaLink", common.id == item.permalink ? "true" : "false"}});
    xml.text_element("pubDate", format_rfc822(common.published));
    xml.close();
}

void write_atom_entry(XmlWriter& xml, const Item& item, const EntryText& text, const EntryCommon& common) {
    xml.open("entry");
    xml.text_element("id", common.id);
    xml.text_element("title", common.title, {{"type", "text"}});
    xml.text_element("updated", format_rfc3339(common.updated));
    xml.text_element("published", format_rfc3339(common.published));
    for (const auto& author : item.authors) {
        xml.open("author");
        xml.text_element("name", author);
        xml.close();
    }
    xml.empty_element("link", {{"rel", "alternate"}, {"type", "text/html"}, {"href", item.permalink}});
    if (item.event && !item.event->url.empty())
        xml.empty_element("link", {{"rel", "related"}, {"type", "text/html"}, {"href", item.event->url}});
    for (const auto& category : common.categories) xml.empty_element("category", {{"term", category}});
    if (!text.summary_text.empty()) xml.text_element("summary", text.summary_text, {{"type", "text"}});
    xml.text_element("content", text.content_html, {{"type", "html"}});
    xml.close();
}

// An event's entry states its times in the view's zone, so each zone view has an entry of its own;
// its body (item.html, escaped for the format) is the same in all of them. It becomes a piece of its
// own, kept once in the fragment cache under this name, which no zone has: a 10,000-event site's
// RSS, Atom and JSON entries took 200 MB for three views, two thirds of it the same bodies. The
// split depends only on the entry's bytes, so `almanac build` (which keeps no zoned entry) cuts the
// same pieces, and the ETag (made from the pieces' hashes, or their runs') agrees.
constexpr std::string_view body_key = "#body";
constexpr std::size_t min_shared_body = 256;  // smaller bodies are not worth a piece of their own

// An entry's bytes as a piece that a document or the fragment cache keeps: without the slack of
// their growth (up to half their size).
Piece exact_piece(std::string bytes) {
    bytes.shrink_to_fit();
    return make_piece(std::move(bytes));
}

// The entry's bytes as pieces: [before the body, the body, after it] when the escaped body is found
// in them (the last time it appears: the content element comes after the summary), else one piece.
std::vector<Piece> split_entry(const RenderRequest& request, const Item& item, std::string bytes, const std::string& body) {
    const std::size_t at = body.size() >= min_shared_body ? bytes.rfind(body) : std::string::npos;
    if (at == std::string::npos) return {exact_piece(std::move(bytes))};
    Piece shared = request.fragments ? request.fragments->shared_part(item, body_key, body) : make_piece(body);
    std::vector<Piece> pieces;
    if (at > 0) pieces.push_back(make_piece(bytes.substr(0, at)));
    pieces.push_back(std::move(shared));
    if (at + body.size() < bytes.size()) pieces.push_back(make_piece(bytes.substr(at + body.size())));
    return pieces;
}

// The key of `item`'s entry in a fragment cache: its zone for an event (a post says nothing zoned).
std::string_view entry_key(const Item& item, const Zone& zone) {
    return item.event ? std::string_view(zone.name) : std::string_view();
}

// The pieces of `item`'s entry as `render` makes them (an event's body cut out: split_entry).
template <class Render, class Body>
std::vector<Piece> make_entry(const RenderRequest& request, const Item& item, const Render& render, const Body& escaped_body) {
    std::string bytes = render();
    if (!item.event) return std::vector<Piece>{exact_piece(std::move(bytes))};
    return split_entry(request, item, std::move(bytes), escaped_body(item));
}

// The pieces of `item`'s entry kept in the request's fragment cache under `key`: found when it was
// rendered before from the same item, zone and dates (entry_date_key), else rendered and kept.
template <class Render, class Body>
const std::vector<Piece>& kept_entry(const RenderRequest& request, const Item& item, std::string_view key,
                                     const Render& render, const Body& escaped_body) {
    const Instant dates = entry_date_key(item, request);
    if (const Fragment* f = request.fragments->find(item, key, dates)) return f->pieces;
    Fragment f;
    f.pieces = make_entry(request, item, render, escaped_body);
    return request.fragments->insert(item, key, dates, std::move(f)).pieces;
}

// Adds the pieces of `item`'s entry to `rope`, from the request's fragment cache when it has one
// that keeps them (kept_entry); else render(). `escaped_body` gives item.html as the format writes
// it. Records the entry's pieces as a unit of the cache's pass, so that the next pass can patch it.
template <class Render, class Body>
void add_entry(DocumentBuilder& rope, const RenderRequest& request, const Item& item, const Zone& zone,
               const Render& render, const Body& escaped_body) {
    const std::string_view key = entry_key(item, zone);
    if (!request.fragments || !request.fragments->keeps(key)) {
        // Streamed and not kept: where pieces are cut does not matter, so the bytes go as they are.
        if (!request.out) {
            for (const auto& piece : make_entry(request, item, render, escaped_body)) rope.share(piece);
            return;
        }
        rope.append(render());
        return;
    }
    const std::size_t begin = rope.mark();
    for (const auto& piece : kept_entry(request, item, key, render, escaped_body)) rope.share(piece);
    if (!request.out) request.fragments->unit(begin, rope.mark());
}

// Every entry's pieces, in order, into `rope`, with `separator` between entries.
template <class Render, class Body>
void add_entries(DocumentBuilder& rope, const RenderRequest& request, const Zone& zone, std::string_view separator,
                 const Render& render, const Body& escaped_body) {
    bool first = true;
    for (const Item* item : request.items) {
        if (!first) rope.append(separator);
        first = false;
        add_entry(
            rope, request, *item, zone, [&] { return render(*item); }, escaped_body);
    }
}

// The document the request's fragment cache made in its previous pass, with the entries whose
// stamps changed (FragmentCache::changed_entries) in place of theirs: the same rope a whole render
// gives, without a walk of every entry. nullopt when it cannot be patched.
template <class Render, class Body>
std::optional<Rope> patch_entries(const RenderRequest& request, const Zone& zone, const Render& render,
                                  const Body& escaped_body) {
    FragmentCache* cache = request.fragments;
    const Rope* previous = previous_document(request);
    if (!cache || request.out || !previous) return std::nullopt;
    const auto changed = cache->changed_entries();
    if (!changed || cache->previous_units().size() != 2 * request.items.size()) return std::nullopt;
    const auto& units = cache->previous_units();
    cache->begin_patch();
    std::vector<RopeEdit> edits;
    for (const std::size_t i : *changed) {
        const Item& item = *request.items[i];
        const std::string_view key = entry_key(item, zone);
        if (!cache->keeps(key)) {
            cache->abandon_patch();
            return std::nullopt;
        }
        cache->patch_at(i);
        edits.push_back({units[2 * i], units[2 * i + 1], kept_entry(
                                                             request, item, key, [&] { return render(item); }, escaped_body)});
    }
    cache->keep_units(patched_units(units, edits));
    return patch_rope(*previous, edits);
}

// item.html as an XML entry's content holds it.
std::string xml_body(const Item& item) { return xml_escape(item.html); }

// The document: the writer's bytes so far, the entries, then the closing tags.
template <class Render>
Rope assemble(XmlWriter& xml, const RenderRequest& request, const Zone& zone, const Render& render) {
    if (auto patched = patch_entries(request, zone, render, xml_body)) return std::move(*patched);
    DocumentBuilder rope(request.out, previous_document(request));
    rope.append(xml.flush());
    add_entries(rope, request, zone, "", render, xml_body);
    rope.append(std::move(xml).finish());
    return std::move(rope).finish();
}

// ---------------------------------------------------------------------------------------------
// JSON Feed entries

// A JSON string as nlohmann's dump() writes it without ensure_ascii: the two-character escapes,
// \u00xx for other control characters, every other byte as it is. False, with `out` partly
// written, when `s` is not valid UTF-8 (dump() replaces such bytes with U+FFFD).
bool append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0;  // start of the bytes not yet copied
    std::size_t i = 0;
    while ((i = run_end<true, true, '"', '\\'>(s, i)) < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b >= 0x80) {
            const std::size_t length = decode_utf8(s, i).length;
            if (length == 0) return false;
            i += length;
            continue;
        }
        out.append(s.data() + run, i - run);
        switch (b) {
            case '\b': out += "\\b"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\f': out += "\\f"; break;
            case '\r': out += "\\r"; break;
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            default:
                out += "\\u00";
                out += hex[b >> 4];
                out += hex[b & 0xF];
        }
        run = ++i;
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
    return true;
}

// `value` (objects, arrays and strings only) as dump(2) lays it out when it starts `indent` spaces
// in. False when it holds anything else or a string that is not valid UTF-8: dump() writes it then.
bool append_json(std::string& out, const nlohmann::ordered_json& value, std::size_t indent) {
    switch (value.type()) {
        case nlohmann::json::value_t::string: return append_json_string(out, value.get_ref<const std::string&>());
        case nlohmann::json::value_t::object: {
            if (value.empty()) {
                out += "{}";
                return true;
            }
            out += "{\n";
            bool first = true;
            for (const auto& [key, member] : value.items()) {
                if (!first) out += ",\n";
                first = false;
                out.append(indent + 2, ' ');
                if (!append_json_string(out, key)) return false;
                out += ": ";
                if (!append_json(out, member, indent + 2)) return false;
            }
            out += '\n';
            out.append(indent, ' ');
            out += '}';
            return true;
        }
        case nlohmann::json::value_t::array: {
            if (value.empty()) {
                out += "[]";
                return true;
            }
            out += "[\n";
            bool first = true;
            for (const auto& element : value) {
                if (!first) out += ",\n";
                first = false;
                out.append(indent + 2, ' ');
                if (!append_json(out, element, indent + 2)) return false;
            }
            out += '\n';
            out.append(indent, ' ');
            out += ']';
            return true;
        }
        default: return false;
    }
}

}  // namespace

namespace {

// The RSS document's writer, holding everything before the first entry.
XmlWriter rss_writer(const RenderRequest& request) {
    const SiteInfo& site = request.site->config.site;
    const DateText updated = format_rfc822(request.updated);
    XmlWriter xml;
    xml.open("rss", {{"version", "2.0"},
                     {"xmlns:atom", "http://www.w3.org/2005/Atom"},
                     {"xmlns:content", "http://purl.org/rss/1.0/modules/content/"},
                     {"xmlns:dc", "http://purl.org/dc/elements/1.1/"}});
    xml.open("channel");
    xml.text_element("title", feed_title(request));
    xml.text_element("link", site.base_url);
    xml.text_element("description", feed_description(request));
    xml.text_element("language", site.language);
    xml.text_element("pubDate", updated);
    xml.text_element("lastBuildDate", updated);
    xml.text_element("generator", generator_name);
    xml.empty_element("atom:link", {{"href", request.self_url}, {"rel", "self"}, {"type", "application/rss+xml"}});
    return xml;
}

// The entry's bytes in `out`, whose capacity is reused (a streamed document writes them at once).
void rss_entry_into(std::string& out, const Item& item, const EntryText& text, const EntryCommon& common) {
    auto entry = XmlWriter::fragment(2, std::move(out));  // rss > channel > item
    write_rss_item(entry, item, text, common);
    out = std::move(entry).take();
}

// The Atom document's writer, holding everything before the first entry.
XmlWriter atom_writer(const RenderRequest& request) {
    const SiteInfo& site = request.site->config.site;
    XmlWriter xml;
    xml.open("feed", {{"xmlns", "http://www.w3.org/2005/Atom"}, {"xml:lang", site.language}});
    xml.text_element("id", feed_id(request));
    xml.text_element("title", feed_title(request), {{"type", "text"}});
    if (!request.feed->description.empty()) xml.text_element("subtitle", request.feed->description, {{"type", "text"}});
    xml.text_element("updated", format_rfc3339(request.updated));
    xml.open("author");
    xml.text_element("name", feed_author(request));
    xml.close();
    xml.empty_element("link", {{"rel", "self"}, {"type", "application/atom+xml"}, {"href", request.self_url}});
    xml.empty_element("link", {{"rel", "alternate"}, {"type", "text/html"}, {"href", site.base_url}});
    xml.text_element("generator", generator_name);
    return xml;
}

void atom_entry_into(std::string& out, const Item& item, const EntryText& text, const EntryCommon& common) {
    auto entry = XmlWriter::fragment(1, std::move(out));  // feed > entry
    write_atom_entry(entry, item, text, common);
    out = std::move(entry).take();
}

// A document's bytes before its first entry and after its last.
struct Frame {
    std::string head;
    std::string tail;
};

Frame xml_frame(XmlWriter xml) {
    Frame frame;
    frame.head = xml.flush();
    frame.tail = std::move(xml).finish();
    return frame;
}

}  // namespace

Rope render_rss(const RenderRequest& request) {
    const Zone zone = view_zone(request);
    XmlWriter xml = rss_writer(request);
    return assemble(xml, request, zone, [&](const Item& item) { return entry_bytes(rss_entry_into, request, item, entry_text(item, zone)); });
}


Rope render_atom(const RenderRequest& request) {
    const Zone zone = view_zone(request);
    XmlWriter xml = atom_writer(request);
    return assemble(xml, request, zone, [&](const Item& item) { return entry_bytes(atom_entry_into, request, item, entry_text(item, zone)); });
}


namespace {

using nlohmann::ordered_json;

// Content is valid UTF-8 by construction; `replace` keeps a stray byte in a config value from
// throwing while the document is being built.
std::string dump(const ordered_json& value) { return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace); }

ordered_json json_authors(const std::vector<std::string>& names) {
    ordered_json list = ordered_json::array();
    for (const auto& name : names) list.push_back({{"name", name}});
    return list;
}

// The JSON Feed document around its entries; `frame.head` alone, with its end, when it has none.
Frame json_frame(const RenderRequest& request) {
    const SiteInfo& site = request.site->config.site;
    ordered_json feed;
    feed["version"] = "https://jsonfeed.org/version/1.1";
    feed["title"] = feed_title(request);
    feed["home_page_url"] = site.base_url;
    feed["feed_url"] = request.self_url;
    if (!request.feed->description.empty()) feed["description"] = request.feed->description;
    feed["language"] = site.language;
    feed["authors"] = json_authors({feed_author(request)});
    feed["items"] = ordered_json::array();
    // The feed with an empty "items" (its last member), then each entry dumped on its own and
    // indented to where dump() would have put it: the same bytes as dumping the whole feed.
    std::string out = dump(feed);
    if (request.items.empty()) return {out + "\n", ""};
    constexpr std::string_view empty_items = "[]\n}";
    out.resize(out.size() - empty_items.size());
    return {out + "[\n", "\n  ]\n}\n"};
}

// A JSON string's escaping does not depend on what surrounds it; the entries write theirs with
// append_json_string, or with dump() when the text is not valid UTF-8.
std::string json_body(const Item& item) {
    std::string quoted;
    if (!append_json_string(quoted, item.html)) quoted = dump(ordered_json(item.html));
    return quoted.substr(1, quoted.size() - 2);
}

// A JSON entry's bytes written member by member, in the layout append_json gives the entry object;
// false (`out` partly written) when a string is not valid UTF-8, which only dump() writes.
bool append_json_entry(std::string& out, const Item& item, const EntryText& text, const EntryCommon& common) {
    bool first = true;
    const auto key = [&](std::string_view name) {
        out += first ? "{\n      \"" : ",\n      \"";
        first = false;
        out += name;
        out += "\": ";
    };
    const auto member = [&](std::string_view name, std::string_view value) {
        key(name);
        return append_json_string(out, value);
    };
    if (!member("id", common.id) || !member("url", item.permalink)) return false;
    if (item.event && !item.event->url.empty() && !member("external_url", item.event->url)) return false;
    if (!member("title", common.title) || !member("content_html", text.content_html)) return false;
    if (!text.summary_text.empty() && !member("summary", text.summary_text)) return false;
    if (!member("date_published", format_rfc3339(common.published)) || !member("date_modified", format_rfc3339(common.updated)))
        return false;
    if (const auto& categories = common.categories; !categories.empty()) {
        key("tags");
        out += "[\n";
        for (std::size_t i = 0; i < categories.size(); ++i) {
            out += i == 0 ? "        " : ",\n        ";
            if (!append_json_string(out, categories[i])) return false;
        }
        out += "\n      ]";
    }
    if (!item.authors.empty()) {
        key("authors");
        out += "[\n";
        for (std::size_t i = 0; i < item.authors.size(); ++i) {
            out += i == 0 ? "        {\n          \"name\": " : ",\n        {\n          \"name\": ";
            if (!append_json_string(out, item.authors[i])) return false;
            out += "\n        }";
        }
        out += "\n      ]";
    }
    out += "\n    }";
    return true;
}

std::string json_entry_object(const Item& item, const EntryText& text, const EntryCommon& common);

// The entry's bytes in `out`, whose capacity is reused (a streamed document writes them at once).
void json_entry_into(std::string& out, const Item& item, const EntryText& text, const EntryCommon& common) {
    // Written directly, without building the object (which took a third of the entry's cost).
    out = "    ";
    if (!append_json_entry(out, item, text, common)) out = json_entry_object(item, text, common);
}

// json_entry_into through nlohmann's object, for text that is not valid UTF-8.
std::string json_entry_object(const Item& item, const EntryText& text, const EntryCommon& common) {
    ordered_json entry;
    entry["id"] = common.id;
    entry["url"] = item.permalink;
    if (item.event && !item.event->url.empty()) entry["external_url"] = item.event->url;
    entry["title"] = common.title;
    entry["content_html"] = text.content_html;
    if (!text.summary_text.empty()) entry["summary"] = text.summary_text;
    entry["date_published"] = format_rfc3339(common.published).str();
    entry["date_modified"] = format_rfc3339(common.updated).str();
    if (!common.categories.empty()) entry["tags"] = common.categories;
    if (!item.authors.empty()) entry["authors"] = json_authors(item.authors);
    // feed > items > entry: four spaces deeper than dump() puts a top-level value. Written
    // directly in dump()'s layout (its serializer was a third of the feed's cost); dump() and
    // re-indenting remain for text with invalid UTF-8, which dump() replaces.
    if (std::string direct = "    "; append_json(direct, entry, 4)) return direct;
    // JSON strings hold no raw line breaks, so every "\n" is a line of the layout.
    const std::string flat = dump(entry);
    std::string indented = "    ";
    indented.reserve(flat.size() + flat.size() / 8);
    for (const char c : flat) {
        indented += c;
        if (c == '\n') indented += "    ";
    }
    return indented;
}

// Where a JSON entry's "content_html" string ends (at its closing quote). Its key can only be the
// member's: in a string value a quote is escaped.
std::size_t json_content_end(std::string_view entry) {
    constexpr std::string_view key = "\"content_html\": \"";
    std::size_t at = entry.find(key);
    if (at == std::string_view::npos) return at;
    for (at += key.size(); at < entry.size(); ++at) {
        if (entry[at] == '"') return at;
        if (entry[at] == '\\') ++at;
    }
    return std::string_view::npos;
}

}  // namespace

Rope render_json_feed(const RenderRequest& request) {
    const Zone zone = view_zone(request);
    const Frame frame = json_frame(request);
    const auto render = [&](const Item& item) { return entry_bytes(json_entry_into, request, item, entry_text(item, zone)); };
    if (auto patched = patch_entries(request, zone, render, json_body)) return std::move(*patched);
    DocumentBuilder rope(request.out, previous_document(request));
    rope.append(frame.head);
    if (request.items.empty()) return std::move(rope).finish();
    add_entries(rope, request, zone, ",\n", render, json_body);
    rope.append(frame.tail);
    return std::move(rope).finish();
}


namespace {

// How a format's entries go into a document streamed by render_syndication_views.
struct EntryFormat {
    EntryInto entry_into;
    std::string_view separator;
    std::string (*escaped_body)(const Item&);                 // add_entry's
    std::optional<std::string> (*spliced_body)(const Item&);  // item.html in the content; nullopt: not cut out
    std::size_t (*content_end)(std::string_view entry);       // where the content ends; npos: not found
};

std::optional<std::string> xml_spliced_body(const Item& item) { return xml_body(item); }

std::optional<std::string> json_spliced_body(const Item& item) {
    std::string quoted;
    if (!append_json_string(quoted, item.html)) return std::nullopt;
    return quoted.substr(1, quoted.size() - 2);
}

EntryFormat entry_format(FeedFormat format) {
    switch (format) {
        case FeedFormat::rss:
            return {rss_entry_into, "", xml_body, xml_spliced_body,
                    [](std::string_view entry) { return entry.rfind("</content:encoded>"); }};
        case FeedFormat::atom:
            return {atom_entry_into, "", xml_body, xml_spliced_body,
                    [](std::string_view entry) { return entry.rfind("</content>"); }};
        case FeedFormat::json: break;
        case FeedFormat::ics: break;
    }
    return {json_entry_into, ",\n", json_body, json_spliced_body, json_content_end};
}

Frame frame(FeedFormat format, const RenderRequest& request) {
    switch (format) {
        case FeedFormat::rss: return xml_frame(rss_writer(request));
        case FeedFormat::atom: return xml_frame(atom_writer(request));
        case FeedFormat::json: break;
        case FeedFormat::ics: break;
    }
    return json_frame(request);
}

}  // namespace

// Each view's entry text (its "when and where" lines) is made once for all formats; a post's entry
// is the same in every view (add_entry keeps it). An event's body (item.html, escaped for the
// format) is escaped once per kind of escaping for all views and formats: each view's entry is made
// with the facts alone as its content, and the body is written where that content ends. Escaping
// goes byte by byte and the facts end with an ASCII line break, so the bytes are those of the
// whole entry.
void render_syndication_views(const std::vector<FormatViews>& formats) {
    if (formats.empty() || formats.front().views.empty()) return;
    std::vector<EntryFormat> kinds;
    std::vector<std::vector<Frame>> frames(formats.size());
    for (std::size_t f = 0; f < formats.size(); ++f) {
        kinds.push_back(entry_format(formats[f].format));
        for (const auto& request : formats[f].views) {
            frames[f].push_back(frame(formats[f].format, request));
            request.out->write(frames[f].back().head);
        }
    }
    std::vector<Zone> zones;
    for (const auto& request : formats.front().views) zones.push_back(view_zone(request));
    const auto& items = formats.front().views.front().items;
    std::string bytes;  // an entry's, written at once: one buffer for all of them
    for (std::size_t i = 0; i < items.size(); ++i) {
        const Item& item = *items[i];
        if (i > 0)
            for (std::size_t f = 0; f < formats.size(); ++f)
                for (const auto& request : formats[f].views) request.out->write(kinds[f].separator);
        // Each body escaping once (RSS and Atom share theirs).
        std::vector<std::pair<std::optional<std::string> (*)(const Item&), std::optional<std::string>>> bodies;
        const auto spliced = [&](std::optional<std::string> (*escape)(const Item&)) -> const std::optional<std::string>& {
            for (const auto& [kind, body] : bodies)
                if (kind == escape) return body;
            return bodies.emplace_back(escape, escape(item)).second;
        };
        // The same in every view and format: the views are one feed's, with the same dates.
        std::optional<EntryCommon> common;
        for (std::size_t v = 0; v < zones.size(); ++v) {
            const Zone& zone = zones[v];
            std::optional<EntryText> facts;  // the entry's text with the facts alone as its content
            for (std::size_t f = 0; f < formats.size(); ++f) {
                const RenderRequest& request = formats[f].views[v];
                const EntryFormat& kind = kinds[f];
                if (item.event) {
                    if (const auto& body = spliced(kind.spliced_body)) {
                        if (!facts) facts = entry_text(item, zone, false);
                        if (!common) common = entry_common(item, request);
                        kind.entry_into(bytes, item, *facts, *common);
                        if (const std::size_t end = kind.content_end(bytes); end != std::string::npos) {
                            request.out->write(std::string_view(bytes).substr(0, end));
                            request.out->write(*body);
                            request.out->write(std::string_view(bytes).substr(end));
                            continue;
                        }
                    }
                }
                DocumentBuilder builder(request.out);
                add_entry(
                    builder, request, item, zone, [&] { return entry_bytes(kind.entry_into, request, item, entry_text(item, zone)); },
                    kind.escaped_body);
            }
        }
    }
    for (std::size_t f = 0; f < formats.size(); ++f)
        for (std::size_t v = 0; v < formats[f].views.size(); ++v) formats[f].views[v].out->write(frames[f][v].tail);
}

}  // namespace almanac
