// almanac: the executable. Everything lives in almanac_daemon; this only passes argv on.
#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    return almanac::run_cli(args, std::cout, std::cerr);
}
