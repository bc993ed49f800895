#pragma once
// A test suite whose tests share one server (a fresh state dir, the sandbox host's parts) and one
// administrator session, made once per suite: `class storage_api : public
// admin_server_suite<storage_api>`. The template parameter gives each suite its own server.

#include <gtest/gtest.h>

#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {

template <class Suite>
class admin_server_suite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new server_process();
    ASSERT_TRUE(server_->started());
    token_ = bootstrap_admin(server_->port());
    ASSERT_FALSE(token_.empty());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // Data members end in _ (STYLE.md §10); .clang-tidy gives the suffix to non-static ones only.
  // NOLINTBEGIN(readability-identifier-naming)
  inline static server_process* server_ = nullptr;
  inline static std::string token_;
  // NOLINTEND(readability-identifier-naming)
};

}  // namespace sc::test
