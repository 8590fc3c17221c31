// almanac: the executable. Everything lives in almanac_daemon; this only passes argv on.
#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    // Never destroyed: what it keeps is dropped with the process (see CliLeftovers).
    static auto* const leftovers = new almanac::CliLeftovers;
    return almanac::run_cli(args, std::cout, std::cerr, leftovers);
}
