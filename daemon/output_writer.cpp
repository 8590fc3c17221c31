#include "daemon/output_writer.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace almanac {

namespace fs = std::filesystem;

std::string write_document(const std::string& dir, const std::string& path, std::string_view body) {
    std::error_code ec;
    const fs::path target = fs::path(dir) / path;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return "cannot create " + target.parent_path().string() + ": " + ec.message();
    const fs::path temp = target.string() + ".tmp";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(body.data(), static_cast<std::streamsize>(body.size()));
        out.close();
        if (!out) return "cannot write " + temp.string();
    }
    fs::rename(temp, target, ec);
    if (ec) return "cannot rename " + temp.string() + " to " + target.string() + ": " + ec.message();
    return {};
}

std::string write_documents(const std::string& dir, const std::map<std::string, Document>& documents) {
    for (const auto& [path, doc] : documents)
        if (auto problem = write_document(dir, path, doc.body); !problem.empty()) return problem;
    return {};
}

std::optional<Instant> source_date_epoch_from_env(std::string& problem) {
    const char* s = std::getenv("SOURCE_DATE_EPOCH");
    if (!s || !*s) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s, &end, 10);
    constexpr long long last_second_of_9999 = 253402300799;
    if (*end != '\0' || errno != 0 || v < 0 || v > last_second_of_9999) {
        problem = std::string("SOURCE_DATE_EPOCH='") + s + "' is not a number of seconds from 0 to " +
                  std::to_string(last_second_of_9999) + "; ignored";
        return std::nullopt;
    }
    return Instant{std::chrono::seconds{v}};
}

}  // namespace almanac
