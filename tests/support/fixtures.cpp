#include "tests/support/fixtures.hpp"

#ifndef SC_FIXTURE_PACKAGES
#define SC_FIXTURE_PACKAGES ""
#endif

namespace sc::test {

std::filesystem::path fixture_packages() {
  return SC_FIXTURE_PACKAGES;
}

}  // namespace sc::test
