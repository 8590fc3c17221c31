// The command line (SPEC §1): argument parsing and the subcommands. main() only calls run_cli.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace almanac {

// What a command leaves for the end of the process to drop instead of freeing it itself: the site
// that build and check load. Freeing a large site's items one by one ran alone after the work, 35 ms
// of a one-second build of 11,000 files; the kernel takes the pages back at exit at once. (clang's
// -disable-free does the same with its syntax trees.) main() holds one that is never destroyed.
struct CliLeftovers {
    std::vector<std::shared_ptr<const void>> kept;
};

// Runs the command in `args` (args[0] is the program name) and returns the exit status:
// 0 success, 1 the command found errors (check) or failed, 2 a usage error. Without `leftovers`
// (a test running commands in its own process), everything is freed before run_cli returns.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
            CliLeftovers* leftovers = nullptr);

}  // namespace almanac
