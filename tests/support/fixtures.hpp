#pragma once
// Where the package fixture (the public default repository, 36 definitions) sits: beside the
// checkout, in ../shared/fixtures/default-packages. The path is compiled into one file of the test
// support library only, so the suites' own compile commands do not name the checkout and a fresh
// clone reuses their ccache and clang-tidy results.

#include <filesystem>

namespace sc::test {

std::filesystem::path fixture_packages();

}  // namespace sc::test
