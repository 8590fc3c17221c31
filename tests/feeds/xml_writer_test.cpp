#include "feeds/xml_writer.hpp"

#include <gtest/gtest.h>

namespace almanac {
namespace {

TEST(XmlEscape, Table) {
    struct Case {
        std::string_view in;
        std::string_view out;
    };
    const Case cases[] = {
        {"plain text", "plain text"},
        {"a & b", "a &amp; b"},
        {"<p>", "&lt;p&gt;"},
        {R"(say "hi")", "say &quot;hi&quot;"},
        {"it's", "it&apos;s"},
        {"&amp;", "&amp;amp;"},  // already-escaped text is text: escaped again
        {"]]>", "]]&gt;"},       // a CDATA terminator is harmless: no CDATA is ever written
        {"<![CDATA[x]]>", "&lt;![CDATA[x]]&gt;"},
        {"tab\tnewline\ncr\r", "tab\tnewline\ncr\r"},  // the three controls XML 1.0 allows
        {std::string_view("nul\0end", 7), "nulend"},
        {"\x01\x08\x0B\x0C\x1B\x1F", ""},
        {"caf\xC3\xA9 \xE2\x80\x93 \xF0\x9F\x91\x8B", "caf\xC3\xA9 \xE2\x80\x93 \xF0\x9F\x91\x8B"},  // é – 👋
        {"\xEF\xBF\xBE\xEF\xBF\xBF", ""},                                                            // U+FFFE U+FFFF
        {"\xEF\xBF\xBD", "\xEF\xBF\xBD"},                                                            // U+FFFD stays
        {"", ""},
    };
    for (const auto& c : cases) EXPECT_EQ(xml_escape(c.in), c.out) << c.in;
}

TEST(XmlEscape, InvalidUtf8BecomesReplacementCharacter) {
    const std::string r = "\xEF\xBF\xBD";  // U+FFFD, once per byte that starts no valid sequence
    EXPECT_EQ(xml_escape("a\xFF"
                         "b"),
              "a" + r + "b");
    EXPECT_EQ(xml_escape("\xC0\xAF"), r + r);                  // overlong '/'
    EXPECT_EQ(xml_escape("\xED\xA0\x80"), r + r + r);          // a UTF-16 surrogate
    EXPECT_EQ(xml_escape("\xE2\x80"), r + r);                  // truncated sequence
    EXPECT_EQ(xml_escape("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
}

TEST(XmlWriter, NestsIndentsAndEscapes) {
    XmlWriter xml;
    xml.open("feed", {{"xmlns", "http://www.w3.org/2005/Atom"}});
    xml.text_element("title", "Q&A <live>", {{"type", "text"}});
    xml.empty_element("link", {{"href", "https://example.org/?a=1&b=\"2\""}});
    xml.open("entry");
    xml.text_element("id", "urn:x");
    xml.close();
    xml.open("entry");
    xml.text_element("content", "<p>it's ]]> here</p>", {{"type", "html"}});
    EXPECT_EQ(std::move(xml).finish(),
              "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
              "  <title type=\"text\">Q&amp;A &lt;live&gt;</title>\n"
              "  <link href=\"https://example.org/?a=1&amp;b=&quot;2&quot;\"/>\n"
              "  <entry>\n"
              "    <id>urn:x</id>\n"
              "  </entry>\n"
              "  <entry>\n"
              "    <content type=\"html\">&lt;p&gt;it&apos;s ]]&gt; here&lt;/p&gt;</content>\n"
              "  </entry>\n"
              "</feed>\n");
}

}  // namespace
}  // namespace almanac
