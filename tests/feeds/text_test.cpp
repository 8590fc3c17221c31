#include "feeds/text.hpp"

#include <gtest/gtest.h>

namespace almanac {
namespace {

TEST(FindInvalidUtf8, Table) {
    struct Case {
        std::string bytes;
        std::size_t bad;
    };
    const auto npos = std::string_view::npos;
    const Case cases[] = {
        {"plain ascii", npos},
        {"caf\xC3\xA9", npos},
        {"\xE6\x97\xA5\xE6\x9C\xAC", npos},  // 日本
        {"\xF0\x9F\x92\xA1 idea", npos},     // 💡
        {"caf\xE9", 3},                      // Latin-1 é
        {"\xC0\xAF", 0},                     // overlong '/'
        {"\xE0\x80\xAF", 0},                 // overlong, 3 bytes
        {"\xED\xA0\x80", 0},                 // UTF-16 surrogate
        {"\xF4\x90\x80\x80", 0},             // above U+10FFFF
        {"ok\x80", 2},                       // lone continuation
        {"\xE6\x97", 0},                     // truncated
        {"\xFF", 0},
    };
    for (const auto& c : cases) EXPECT_EQ(find_invalid_utf8(c.bytes), c.bad) << c.bytes;
}

TEST(ValidUtf8, ReplacesEachStrayByte) {
    EXPECT_EQ(valid_utf8("plain \xC3\xA9t\xC3\xA9"), "plain \xC3\xA9t\xC3\xA9");
    EXPECT_EQ(valid_utf8("escape: \xC3"), "escape: \xEF\xBF\xBD");  // a character cut short
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(valid_utf8("\xFF\x80"
                         "a\xED\xA0\x80"),
              fffd + fffd + "a" + fffd + fffd + fffd);  // one per stray byte
    EXPECT_EQ(valid_utf8(""), "");
    EXPECT_EQ(find_invalid_utf8(valid_utf8("\xC0\xAF\xF4\x90\x80\x80 x")), std::string_view::npos);
}

TEST(YamlScalarUtf8, EncodesTheEscapesYamlCppWritesAsSingleBytes) {
    EXPECT_EQ(yaml_scalar_utf8("a\xA0"
                               "b\x85"
                               "c"),
              "a\xC2\xA0"
              "b\xC2\x85"
              "c");
    EXPECT_EQ(yaml_scalar_utf8("\xC2\xA0 \xE2\x80\xA8 \xC3\xA9"), "\xC2\xA0 \xE2\x80\xA8 \xC3\xA9");  // valid: kept
    EXPECT_EQ(yaml_scalar_utf8("\xFF"), "\xEF\xBF\xBD");
}

TEST(NormalizeText, StripsBomAndCrlf) {
    const auto n = normalize_text("\xEF\xBB\xBFline1\r\nline2\rline3\n", "f.md");
    ASSERT_TRUE(n.ok);
    EXPECT_EQ(n.text, "line1\nline2\nline3\n");
}

TEST(NormalizeText, InvalidUtf8NamesLineAndColumn) {
    const auto n = normalize_text("one\ntw\xC3\xA9 \xE9x\n", "f.md");
    ASSERT_FALSE(n.ok);
    EXPECT_EQ(n.error.path, "f.md");
    EXPECT_EQ(n.error.line, 2);
    EXPECT_EQ(n.error.column, 5);  // t, w, é, space, then the bad byte
    EXPECT_NE(n.error.message.find("0xE9"), std::string::npos);
}

TEST(Slugify, Table) {
    const std::pair<const char*, const char*> cases[] = {
        {"Hello, World!", "hello-world"},
        {"  OSPOCon Europe 2024 ", "ospocon-europe-2024"},
        {"TODO Touchpoint (EMEA & APAC)", "todo-touchpoint-emea-apac"},
        {"Malmö", "malmö"},
        {"---", ""},
    };
    for (const auto& [in, want] : cases) EXPECT_EQ(slugify(in), want) << in;
}

TEST(ControlChars, Table) {
    EXPECT_FALSE(has_control_chars("tab\tand\nnewline"));
    EXPECT_TRUE(has_control_chars(std::string("nul\0x", 5)));
    EXPECT_TRUE(has_control_chars("bell\a"));
    EXPECT_TRUE(has_control_chars("del\x7F"));
}

}  // namespace
}  // namespace almanac

namespace almanac {
namespace {

TEST(Split, Table) {
    using V = std::vector<std::string_view>;
    EXPECT_EQ(split("a,b,c", ','), (V{"a", "b", "c"}));
    EXPECT_EQ(split("a,,b", ','), (V{"a", "", "b"}));
    EXPECT_EQ(split("", ';'), (V{""}));
    EXPECT_EQ(split("FREQ=DAILY;", ';'), (V{"FREQ=DAILY", ""}));
}

}  // namespace
}  // namespace almanac

namespace almanac {
namespace {

TEST(AsciiCase, Table) {
    EXPECT_EQ(ascii_lower("PublishDate ÉTÉ"), "publishdate ÉtÉ");  // non-ASCII left alone
    EXPECT_TRUE(ascii_iequals("Title", "title"));
    EXPECT_TRUE(ascii_iequals("publishdate", "publishDate"));
    EXPECT_FALSE(ascii_iequals("title", "titles"));
    EXPECT_FALSE(ascii_iequals("date", "data"));
}

}  // namespace
}  // namespace almanac
