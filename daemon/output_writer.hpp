// Writing published documents to a directory (`almanac build --out DIR`): each file replaced
// atomically (temp file + rename) so a web server never serves half a file, and left alone when it
// already holds the same bytes, so its modification time (a static server's Last-Modified) stays.
#pragma once

#include <map>
#include <string>

#include "feeds/publisher.hpp"

namespace almanac {

// Writes every document under `dir` (created if needed). Returns an error message, or empty.
std::string write_documents(const std::string& dir, const std::map<std::string, Document>& documents);

// Writes one document's bytes to dir/path through a temporary file renamed into place, unless
// dir/path already holds exactly these bytes. `written`, when given, says which it was.
std::string write_document(const std::string& dir, const std::string& path, const Rope& body,
                           bool* written = nullptr);

// SOURCE_DATE_EPOCH from the environment, when set to a number of seconds up to 9999-12-31;
// `problem` says why a value that is set was not usable.
std::optional<Instant> source_date_epoch_from_env(std::string& problem);

}  // namespace almanac
