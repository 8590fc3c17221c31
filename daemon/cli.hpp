// The command line (SPEC §1): argument parsing and the subcommands. main() only calls run_cli.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace almanac {

// Runs the command in `args` (args[0] is the program name) and returns the exit status:
// 0 success, 1 the command found errors (check) or failed, 2 a usage error.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace almanac
