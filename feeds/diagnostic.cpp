#include "feeds/diagnostic.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

namespace almanac {

std::string_view to_string(Severity s) { return s == Severity::error ? "error" : "warning"; }

bool has_errors(const Diagnostics& ds) {
    return std::any_of(ds.begin(), ds.end(), [](const Diagnostic& d) { return d.severity == Severity::error; });
}

std::string format_place(const Diagnostic& d) {
    std::string out = d.path;
    if (d.line > 0) {
        out += ':' + std::to_string(d.line);
        if (d.column > 0) out += ':' + std::to_string(d.column);
    }
    return out;
}

std::string format_text(const Diagnostic& d) {
    std::string out = format_place(d);
    out += ": ";
    out += to_string(d.severity);
    out += ": ";
    out += d.message;
    return out;
}

namespace {
// Workflow-command values escape %, CR and LF; properties also escape ':' and ','.
std::string escape_github(std::string_view s, bool property) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '%': out += "%25"; break;
            case '\r': out += "%0D"; break;
            case '\n': out += "%0A"; break;
            case ':': out += property ? "%3A" : ":"; break;
            case ',': out += property ? "%2C" : ","; break;
            default: out += c;
        }
    }
    return out;
}
}  // namespace

std::string format_github(const Diagnostic& d) {
    std::string out = "::";
    out += to_string(d.severity);
    out += " file=" + escape_github(d.path, true);
    if (d.line > 0) out += ",line=" + std::to_string(d.line);
    if (d.column > 0) out += ",col=" + std::to_string(d.column);
    out += "::" + escape_github(d.message, false);
    return out;
}

std::string format_json(const Diagnostics& ds) {
    auto arr = nlohmann::json::array();
    for (const auto& d : ds) {
        arr.push_back({{"path", d.path},
                       {"line", d.line},
                       {"column", d.column},
                       {"severity", std::string(to_string(d.severity))},
                       {"message", d.message}});
    }
    // Replace invalid UTF-8 rather than throw: a message may quote a broken file.
    return arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

void sort_diagnostics(Diagnostics& ds) {
    std::stable_sort(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.path, a.line, a.column, a.message) < std::tie(b.path, b.line, b.column, b.message);
    });
}

}  // namespace almanac
