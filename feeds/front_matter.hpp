// Front matter and data files (YAML, TOML, JSON) turned into one small tree that remembers the
// file line and column of every value, so that every later message can point at its key.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/diagnostic.hpp"

namespace almanac {

struct FmEntry;

// A value from front matter or a data file. Scalars keep their text as written (TOML dates and
// numbers are rendered back to text), so one set of value parsers serves every format.
struct FmNode {
    enum class Kind { null,
                      scalar,
                      list,
                      map };
    Kind kind = Kind::null;
    std::string scalar;
    bool quoted = false;  // the scalar was a quoted string (YAML) or a string (TOML/JSON)
    std::vector<FmNode> list;
    std::vector<FmEntry> map;  // in document order
    int line = 0;              // 1-based line in the file
    int column = 0;            // 1-based

    // The entry for `key` in a map, or nullptr.
    const FmNode* find(std::string_view key) const;
};

struct FmEntry {
    std::string key;
    int line = 0;
    int column = 0;
    FmNode value;
};

std::string_view kind_name(FmNode::Kind k);

enum class FrontMatterFormat { none,
                               yaml,
                               toml };

struct SplitDocument {
    FrontMatterFormat format = FrontMatterFormat::none;
    FmNode front_matter;      // a map (empty when there is none)
    std::string_view body;    // the Markdown after the front matter
    int body_first_line = 1;  // 1-based file line where `body` starts
    Diagnostics diagnostics;  // errors make the document unusable
};

// Splits a Markdown file into front matter (--- YAML --- or +++ TOML +++) and body and parses the
// front matter. `text` must be valid UTF-8 without BOM and with LF line ends (see normalize_text).
// An unterminated front matter block, a syntax error, or front matter that is not a map is an error.
SplitDocument split_front_matter(std::string_view text, const std::string& path);

enum class DataFormat { yaml,
                        toml,
                        json };

struct ParsedData {
    FmNode root;
    Diagnostics diagnostics;
};

// Parses a whole data file. Bounded: more than 100,000 values, nesting deeper than 64 levels, or
// aliases that repeat more text than twice the file plus 64 KiB is an error (alias bombs, runaway
// files), never a crash.
ParsedData parse_data(std::string_view text, DataFormat format, const std::string& path, int first_line = 1);

// YAML allows no control characters but tab and line breaks (YAML 1.2 §5.1). yaml-cpp reads a
// stream with a NUL among its first bytes as UTF-16 or UTF-32 and gives values and messages that are
// not UTF-8, so YAML text (front matter, data files, the config) is refused at its first control
// character instead: the error, at its line (counted from `first_line`) and column, or nullopt.
std::optional<Diagnostic> yaml_control_character(std::string_view text, const std::string& path, int first_line = 1);

}  // namespace almanac
