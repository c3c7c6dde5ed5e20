// tap_validate: the function's validators on the host (see tap/app/contract_check.hpp). Not part of the
// Lambda package: the package step and the tests run it.
#include <iostream>
#include <string_view>
#include <vector>

#include "tap/app/contract_check.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return tap::contract::run(args, std::cin, std::cout, std::cerr);
}
