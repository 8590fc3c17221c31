// A small XML 1.0 writer for the RSS and Atom documents: elements, attributes and text, all escaped
// by one routine, so a feed is well-formed whatever its content holds. Deterministic bytes: "\n"
// line ends, two-space indentation, attributes in the order given.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace almanac {

// `text` as XML character data or attribute value: & < > " ' become the five predefined entities;
// characters XML 1.0 does not allow (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF) are
// dropped; bytes that are not UTF-8 become U+FFFD. The result never needs a CDATA section.
std::string xml_escape(std::string_view text);
// The same, appended to `out` (no temporary string).
void append_xml_escaped(std::string& out, std::string_view text);

using XmlAttributes = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Writes one document, starting with the XML declaration. Names are the caller's constants and are
// written as given; every attribute value and text goes through xml_escape.
class XmlWriter {
public:
    XmlWriter();

    // Starts an element whose children follow, one level deeper.
    void open(std::string_view name, XmlAttributes attributes = {});
    // Ends the innermost open element.
    void close();
    // An element holding only text, on one line.
    void text_element(std::string_view name, std::string_view text, XmlAttributes attributes = {});
    // An element with attributes only: <name a="b"/>.
    void empty_element(std::string_view name, XmlAttributes attributes = {});

    // The document: every element still open is closed, and the text ends with "\n".
    std::string finish() &&;

    // A writer of a piece of a document nested `depth` elements deep, with no XML declaration; its
    // bytes (take()) go into the document with raw() where an element at that depth would. It
    // writes into `buffer` (emptied first), so a caller writing many may reuse one's capacity.
    static XmlWriter fragment(std::size_t depth, std::string buffer = {});
    std::string take() &&;  // as written: with the slack of its growth
    // The bytes written since the last flush(); the elements open stay open, so what follows (a
    // document's entries, shared rather than copied) goes between these bytes and finish()'s.
    std::string flush();

private:
    struct FragmentTag {};
    XmlWriter(FragmentTag, std::size_t depth, std::string buffer) : out_(std::move(buffer)), base_depth_(depth) { out_.clear(); }
    void start_tag(std::string_view name, XmlAttributes attributes);
    std::size_t depth() const { return base_depth_ + open_.size(); }

    std::string out_;
    std::vector<std::string> open_;
    std::size_t base_depth_ = 0;
};

}  // namespace almanac
