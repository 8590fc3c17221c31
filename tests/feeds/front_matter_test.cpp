#include "feeds/front_matter.hpp"

#include <gtest/gtest.h>

#include "feeds/text.hpp"

namespace almanac {
namespace {

TEST(SplitFrontMatter, YamlWithLines) {
    const std::string text = "---\ntitle: \"Hi\"\ntags: [a, b]\ngeo: { lat: 1.5, lon: 2 }\n---\nBody\n";
    const auto doc = split_front_matter(text, "x.md");
    ASSERT_TRUE(doc.diagnostics.empty());
    EXPECT_EQ(doc.format, FrontMatterFormat::yaml);
    EXPECT_EQ(doc.body, "Body\n");
    EXPECT_EQ(doc.body_first_line, 6);
    const FmNode* title = doc.front_matter.find("title");
    ASSERT_NE(title, nullptr);
    EXPECT_EQ(title->scalar, "Hi");
    EXPECT_TRUE(title->quoted);
    EXPECT_EQ(title->line, 2);
    EXPECT_EQ(title->column, 8);
    const FmNode* tags = doc.front_matter.find("tags");
    ASSERT_NE(tags, nullptr);
    ASSERT_EQ(tags->list.size(), 2u);
    EXPECT_EQ(tags->list[1].scalar, "b");
    EXPECT_EQ(doc.front_matter.map[2].key, "geo");
    EXPECT_EQ(doc.front_matter.map[2].line, 4);
    EXPECT_EQ(doc.front_matter.find("geo")->find("lat")->scalar, "1.5");
}

void expect_same_tree(const FmNode& a, const FmNode& b, const std::string& where) {
    EXPECT_EQ(a.kind, b.kind) << where;
    EXPECT_EQ(a.scalar, b.scalar) << where;
    EXPECT_EQ(a.quoted, b.quoted) << where;
    EXPECT_EQ(a.line, b.line) << where;
    EXPECT_EQ(a.column, b.column) << where;
    ASSERT_EQ(a.list.size(), b.list.size()) << where;
    for (std::size_t i = 0; i < a.list.size(); ++i) expect_same_tree(a.list[i], b.list[i], where + "[" + std::to_string(i) + "]");
    ASSERT_EQ(a.map.size(), b.map.size()) << where;
    for (std::size_t i = 0; i < a.map.size(); ++i) {
        EXPECT_EQ(a.map[i].key, b.map[i].key) << where;
        EXPECT_EQ(a.map[i].line, b.map[i].line) << where;
        EXPECT_EQ(a.map[i].column, b.map[i].column) << where;
        expect_same_tree(a.map[i].value, b.map[i].value, where + "." + a.map[i].key);
    }
}

// Flat "key: value" front matter is read without yaml-cpp; a comment line after it sends the same
// lines through yaml-cpp, which must give the same tree, lines and columns.
TEST(SplitFrontMatter, FlatFrontMatterReadsAsYamlCppReadsIt) {
    const std::string flat =
        "title: \"Panel: security, governance \xC3\xA9 \xF0\x9F\x98\x80\"\nstart: 2025-08-26T18:30\n"
        "duration:   PT2H\ntimezone: Africa/Nairobi\nempty:\nquoted_empty: \"\"\ntags: [community, panel-2, v1.5]\n"
        "none: []\nurl: https://example.org/a?b=c;d=e\nrrule: FREQ=WEEKLY;BYDAY=TU\ncount: 3\ndraft: true\n"
        "k-1_x: a b,  c@d+e/f\n";
    const auto fast = split_front_matter("---\n" + flat + "---\nBody\n", "x.md");
    const auto yaml_cpp = split_front_matter("---\n" + flat + "# through yaml-cpp\n---\nBody\n", "x.md");
    ASSERT_TRUE(fast.diagnostics.empty());
    ASSERT_TRUE(yaml_cpp.diagnostics.empty());
    EXPECT_EQ(fast.front_matter.map.size(), 13u);
    expect_same_tree(fast.front_matter, yaml_cpp.front_matter, "front matter");
}

// Lines of nearly that shape still go to yaml-cpp, with its messages.
TEST(SplitFrontMatter, NearlyFlatFrontMatterKeepsYamlCppsErrors) {
    const std::pair<std::string, int> cases[] = {{"title: a: b\n", 2}, {"title: \"a\" b\n", 2}, {"tags: [a, b\n", 3}, {"a: 1\n a: 2\n", 3}};
    for (const auto& [fm, line] : cases) {
        const auto doc = split_front_matter("---\n" + fm + "---\n", "x.md");
        ASSERT_EQ(doc.diagnostics.size(), 1u) << fm;
        EXPECT_TRUE(doc.diagnostics[0].message.starts_with("YAML syntax error: ")) << fm;
        EXPECT_EQ(doc.diagnostics[0].line, line) << fm;
    }
    const auto nulls = split_front_matter("---\na: null\nb: ~\n---\n", "x.md");
    EXPECT_EQ(nulls.front_matter.find("a")->kind, FmNode::Kind::null);
    EXPECT_EQ(nulls.front_matter.find("b")->kind, FmNode::Kind::null);
}

TEST(SplitFrontMatter, TomlValuesBecomeText) {
    const std::string text =
        "+++\ntitle = \"T\"\nstart = 2024-05-01T09:30:00\nwhen = 2024-05-01T09:30:00Z\noff = 2024-05-01T09:30:00-05:00\n"
        "day = 2024-05-01\ncount = 3\ndraft = true\n+++\nBody";
    const auto doc = split_front_matter(text, "x.md");
    ASSERT_TRUE(doc.diagnostics.empty()) << doc.diagnostics.front().message;
    EXPECT_EQ(doc.format, FrontMatterFormat::toml);
    EXPECT_EQ(doc.front_matter.find("start")->scalar, "2024-05-01T09:30:00");
    EXPECT_EQ(doc.front_matter.find("when")->scalar, "2024-05-01T09:30:00Z");
    EXPECT_EQ(doc.front_matter.find("off")->scalar, "2024-05-01T09:30:00-05:00");
    EXPECT_EQ(doc.front_matter.find("day")->scalar, "2024-05-01");
    EXPECT_EQ(doc.front_matter.find("count")->scalar, "3");
    EXPECT_EQ(doc.front_matter.find("draft")->scalar, "true");
    EXPECT_EQ(doc.front_matter.find("start")->line, 3);
    EXPECT_EQ(doc.body, "Body");
}

TEST(SplitFrontMatter, NoFrontMatter) {
    const auto doc = split_front_matter("# Title\n\ntext\n", "x.md");
    EXPECT_EQ(doc.format, FrontMatterFormat::none);
    EXPECT_TRUE(doc.diagnostics.empty());
    EXPECT_EQ(doc.body, "# Title\n\ntext\n");
    EXPECT_EQ(doc.body_first_line, 1);
}

TEST(SplitFrontMatter, Errors) {
    struct Case {
        std::string text;
        int line;
        std::string message;
    };
    const Case cases[] = {
        {"---\ntitle: x\n", 1, "never closed"},
        {"---\ntitle: x\nstart: a: b\n---\n", 3, "YAML syntax error"},
        {"---\n- a\n- b\n---\n", 2, "must be a map"},
        {"+++\ntitle = \n+++\n", 2, "TOML syntax error"},
        {"---\na: [[[[\n---\n", 3, "YAML syntax error"},
    };
    for (const auto& c : cases) {
        const auto doc = split_front_matter(c.text, "x.md");
        ASSERT_EQ(doc.diagnostics.size(), 1u) << c.text;
        EXPECT_EQ(doc.diagnostics[0].line, c.line) << c.text;
        EXPECT_NE(doc.diagnostics[0].message.find(c.message), std::string::npos) << doc.diagnostics[0].message;
        EXPECT_EQ(doc.diagnostics[0].severity, Severity::error);
    }
}

TEST(SplitFrontMatter, EmptyFrontMatterIsAnEmptyMap) {
    const auto doc = split_front_matter("---\n---\nbody", "x.md");
    EXPECT_TRUE(doc.diagnostics.empty());
    EXPECT_EQ(doc.front_matter.kind, FmNode::Kind::map);
    EXPECT_TRUE(doc.front_matter.map.empty());
}

TEST(ParseData, AliasBombIsBounded) {
    std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'k'; ++c) {
        yaml += std::string(1, c) + ": &" + c + " [";
        for (int i = 0; i < 10; ++i) yaml += std::string(i ? ", *" : "*") + prev;
        yaml += "]\n";
        prev = c;
    }
    const auto parsed = parse_data(yaml, DataFormat::yaml, "bomb.yaml");
    ASSERT_EQ(parsed.diagnostics.size(), 1u);
    EXPECT_NE(parsed.diagnostics[0].message.find("too complex: "), std::string::npos) << parsed.diagnostics[0].message;
    // Without much text behind the aliases, the count of values stops it.
    std::string empty_laughs = "a: &a [~, ~, ~, ~, ~, ~, ~, ~, ~, ~]\n";
    prev = 'a';
    for (char c = 'b'; c <= 'k'; ++c) {
        empty_laughs += std::string(1, c) + ": &" + c + " [";
        for (int i = 0; i < 10; ++i) empty_laughs += std::string(i ? ", *" : "*") + prev;
        empty_laughs += "]\n";
        prev = c;
    }
    const auto nulls = parse_data(empty_laughs, DataFormat::yaml, "bomb.yaml");
    ASSERT_EQ(nulls.diagnostics.size(), 1u);
    EXPECT_NE(nulls.diagnostics[0].message.find("more than 100000 values"), std::string::npos)
        << nulls.diagnostics[0].message;
}

TEST(ParseData, DeepNestingIsAnErrorNotACrash) {
    const std::string deep = "events: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
    const auto parsed = parse_data(deep, DataFormat::yaml, "deep.yaml");
    ASSERT_FALSE(parsed.diagnostics.empty());
    EXPECT_EQ(parsed.diagnostics[0].severity, Severity::error);
    // yaml-cpp's depth guard (2000 levels) calls it a "bad file"; say what is wrong instead.
    EXPECT_EQ(parsed.diagnostics[0].message, "too complex: nesting deeper than 64 levels");
    EXPECT_EQ(parsed.diagnostics[0].line, 1);
    const std::string deep_maps = "a: " + [] {
        std::string s;
        for (int i = 0; i < 100000; ++i) s += "{a: ";
        return s + "1" + std::string(100000, '}');
    }() + "\n";
    const auto maps = split_front_matter("---\ntitle: x\n" + deep_maps + "---\n", "deep.md");
    ASSERT_EQ(maps.diagnostics.size(), 1u);
    EXPECT_EQ(maps.diagnostics[0].message, "too complex: nesting deeper than 64 levels");
    EXPECT_EQ(maps.diagnostics[0].line, 3);
    // Below yaml-cpp's guard, our own limit names the key.
    const auto shallow = parse_data("a: " + std::string(100, '[') + std::string(100, ']'), DataFormat::yaml, "d.yaml");
    ASSERT_EQ(shallow.diagnostics.size(), 1u);
    EXPECT_EQ(shallow.diagnostics[0].message, "a: too complex: nesting deeper than 64 levels");
    const auto toml = parse_data("a = " + std::string(5000, '[') + std::string(5000, ']'), DataFormat::toml, "deep.toml");
    ASSERT_FALSE(toml.diagnostics.empty());
}

TEST(ParseData, JsonKeepsLines) {
    const auto parsed = parse_data("{\n  \"events\": [\n    {\"title\": \"x\"}\n  ]\n}\n", DataFormat::json, "e.json");
    ASSERT_TRUE(parsed.diagnostics.empty());
    const FmNode* events = parsed.root.find("events");
    ASSERT_NE(events, nullptr);
    ASSERT_EQ(events->list.size(), 1u);
    EXPECT_EQ(events->list[0].line, 3);
    EXPECT_EQ(events->list[0].find("title")->scalar, "x");
}

}  // namespace
}  // namespace almanac

namespace almanac {
namespace {

TEST(SplitFrontMatter, BlankLinesBeforeAndKeysAnyCase) {
    const auto doc = split_front_matter("\n\n---\nTitle: \"T\"\npublishdate: 2024-01-01\n---\nBody\n", "x.md");
    ASSERT_TRUE(doc.diagnostics.empty());
    EXPECT_EQ(doc.format, FrontMatterFormat::yaml);
    ASSERT_NE(doc.front_matter.find("title"), nullptr);
    EXPECT_EQ(doc.front_matter.find("title")->line, 4);
    EXPECT_NE(doc.front_matter.find("publishDate"), nullptr);
    EXPECT_EQ(doc.body, "Body\n");
    EXPECT_EQ(doc.body_first_line, 7);
    const auto unclosed = split_front_matter("\n---\ntitle: x\n", "x.md");
    ASSERT_EQ(unclosed.diagnostics.size(), 1u);
    EXPECT_EQ(unclosed.diagnostics[0].line, 2);
}

}  // namespace
}  // namespace almanac

namespace almanac {
namespace {

TEST(ParseData, AliasesOfLargeTextAreBoundedInBytes) {
    // 1000 aliases of a 100 KB scalar: few values, but 100 MB once copied.
    std::string yaml = "big: &b \"" + std::string(100 * 1024, 'x') + "\"\nmany: [";
    for (int i = 0; i < 1000; ++i) yaml += i ? ", *b" : "*b";
    yaml += "]\n";
    const auto parsed = parse_data(yaml, DataFormat::yaml, "big.yaml");
    ASSERT_EQ(parsed.diagnostics.size(), 1u);
    EXPECT_NE(parsed.diagnostics[0].message.find("aliases repeat more than"), std::string::npos)
        << parsed.diagnostics[0].message;
}

TEST(ParseData, AliasesMayRepeatTextOnlyAsMuchAsTheFileHolds) {
    // A 900 KB summary used again as 70 tags fit in a 1 MiB file: the item would carry 63 MB of tags,
    // and every calendar view of it 67 MB.
    std::string fm = "---\ntitle: x\nstart: 2030-01-01\nsummary: &b \"" + std::string(900 * 1024, 'x') + "\"\ntags: [";
    for (int i = 0; i < 70; ++i) fm += i ? ", *b" : "*b";
    fm += "]\n---\n";
    const auto doc = split_front_matter(fm, "bomb.md");
    ASSERT_EQ(doc.diagnostics.size(), 1u);
    EXPECT_EQ(doc.diagnostics[0].line, 5);  // the key using the alias, not the text it repeats
    EXPECT_EQ(doc.diagnostics[0].message.rfind("tags: too complex: aliases repeat more than ", 0), 0u)
        << doc.diagnostics[0].message;
    // Ordinary reuse of a few values stays well inside.
    std::string data = "where: &w \"Kulturbrauerei, Schönhauser Allee 36, 10435 Berlin\"\nevents:\n";
    for (int i = 0; i < 200; ++i) data += "  - {title: t" + std::to_string(i) + ", location: *w}\n";
    EXPECT_TRUE(parse_data(data, DataFormat::yaml, "reuse.yaml").diagnostics.empty());
}

// Found by fuzz_content: yaml-cpp reads a stream with a NUL among its first bytes as UTF-16 or
// UTF-32, and gave values and messages that were not UTF-8. YAML 1.2 §5.1 allows no control
// characters but tab and line breaks: they are refused at their line and column, as in the config.
TEST(ParseData, ControlCharactersAreRefused) {
    struct Case {
        std::string yaml;
        int line;
        int column;
        const char* message;
    };
    const Case cases[] = {
        {std::string("\0\xEF\xBB\xBF", 4), 1, 1, "YAML syntax error: control character U+0000 is not allowed"},
        {"events:\n  - title: \"\xC3\xA9t\x01\"\n", 2, 15, "YAML syntax error: control character U+0001 is not allowed"},
        {"a: x\x7f\n", 1, 5, "YAML syntax error: control character U+007F is not allowed"},
        {std::string("a: 1\nb: \"\0\"\n", 11), 2, 5, "YAML syntax error: control character U+0000 is not allowed"},
    };
    for (const auto& c : cases) {
        const auto parsed = parse_data(c.yaml, DataFormat::yaml, "content/events/calls.yaml");
        ASSERT_EQ(parsed.diagnostics.size(), 1u) << c.message;
        const auto& d = parsed.diagnostics[0];
        EXPECT_EQ(d.path, "content/events/calls.yaml");
        EXPECT_EQ(d.severity, Severity::error);
        EXPECT_EQ(d.message, c.message);
        EXPECT_EQ(d.line, c.line) << c.message;
        EXPECT_EQ(d.column, c.column) << c.message;
        EXPECT_EQ(parsed.root.kind, FmNode::Kind::null);
    }
    // In front matter, at the file's line.
    const auto doc = split_front_matter("---\ntitle: A\nlocation: x\x1b[31m\n---\nBody\n", "content/events/a.md");
    ASSERT_EQ(doc.diagnostics.size(), 1u);
    EXPECT_EQ(doc.diagnostics[0].line, 3);
    EXPECT_EQ(doc.diagnostics[0].column, 12);
    EXPECT_EQ(doc.diagnostics[0].message, "YAML syntax error: control character U+001B is not allowed");
    // Tabs, CR and LF are fine, and so are escapes: the readers of text values check what they stand for.
    EXPECT_TRUE(parse_data("a: \"x\ty\"\r\nb: \"\\x01\"\n", DataFormat::yaml, "a.yaml").diagnostics.empty());
}

// Found by fuzz_content: yaml-cpp quotes the byte after a backslash, which may be the first byte of
// a character, and 0.7 decodes the escapes \_ and \N (U+00A0, U+0085) to single bytes.
TEST(ParseData, YamlMessagesAndScalarsAreUtf8) {
    const auto bad = parse_data("title: \"\\\xC3\xBC\"\n", DataFormat::yaml, "a.yaml");
    ASSERT_EQ(bad.diagnostics.size(), 1u);
    EXPECT_EQ(bad.diagnostics[0].message, "YAML syntax error: unknown escape character: \xEF\xBF\xBD");
    const auto parsed = parse_data("title: \"a\\_b\\Nc\"\n\"k\\_ey\": x\n", DataFormat::yaml, "a.yaml");
    ASSERT_TRUE(parsed.diagnostics.empty());
    ASSERT_EQ(parsed.root.map.size(), 2u);
    EXPECT_EQ(parsed.root.map[0].value.scalar,
              "a\xC2\xA0"
              "b\xC2\x85"
              "c");
    EXPECT_EQ(parsed.root.map[1].key,
              "k\xC2\xA0"
              "ey");
    for (const auto& e : parsed.root.map) {
        EXPECT_EQ(find_invalid_utf8(e.key), std::string_view::npos);
        EXPECT_EQ(find_invalid_utf8(e.value.scalar), std::string_view::npos);
    }
}

}  // namespace
}  // namespace almanac
