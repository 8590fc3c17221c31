// Diagnostics: the expected failures of parsing content and config, as values.
// A Diagnostic names the file, the 1-based line and column, a severity and one sentence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace almanac {

enum class Severity { error,
                      warning };

struct Diagnostic {
    std::string path;  // as the user knows it: relative to the config file's directory when possible
    int line = 0;      // 1-based; 0 when the problem concerns the whole file
    int column = 0;    // 1-based; 0 when unknown
    Severity severity = Severity::error;
    std::string message;

    friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

using Diagnostics = std::vector<Diagnostic>;

std::string_view to_string(Severity s);

// True when any diagnostic in the list is an error.
bool has_errors(const Diagnostics& ds);

// "path:line:col: severity: message" (line/col omitted when 0).
std::string format_text(const Diagnostic& d);

// "path:line:col", "path:line" or "path": where a diagnostic is, for a log line whose level
// already says its severity.
std::string format_place(const Diagnostic& d);

// GitHub Actions workflow command: "::error file=…,line=…,col=…::message".
std::string format_github(const Diagnostic& d);

// A JSON array of {path, line, column, severity, message} objects.
std::string format_json(const Diagnostics& ds);

// Sorts by path, line, column, then message, so output order never depends on the file system.
void sort_diagnostics(Diagnostics& ds);

}  // namespace almanac
