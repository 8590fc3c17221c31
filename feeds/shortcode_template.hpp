// A site's own Hugo shortcodes (SPEC §2.1): templates in a small subset of Hugo's Go-template syntax
// (`.Get "name"`, `.Get 0`, `.Inner`, `with`/`if`/`else`/`end`, `{{-`/`-}}`, comments), parsed once
// when the config loads and rendered for each use. Pure.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/expected.hpp"

namespace almanac {

// One argument of a shortcode tag: `key="value"`, or a positional value when `key` is empty.
struct ShortcodeArgument {
    std::string key;
    std::string value;
};

struct ShortcodeTemplate;  // parsed; see shortcode_template.cpp

// A shortcode the config declares.
struct ShortcodeDefinition {
    std::string name;
    std::string source;  // the template as written
    std::shared_ptr<const ShortcodeTemplate> parsed;
};

// The parsed template, or an error saying what is wrong and where: "line L, column C: …" counted
// inside the template text.
Expected<std::shared_ptr<const ShortcodeTemplate>> parse_shortcode_template(std::string_view source);

// The template's output for one use: `.Get` values HTML-escaped (as Hugo's html/template does),
// `.Inner` (the text between the paired tags, its own shortcodes already expanded) as it is.
std::string render_shortcode(const ShortcodeTemplate& tmpl, const std::vector<ShortcodeArgument>& args,
                             std::string_view inner);

}  // namespace almanac
