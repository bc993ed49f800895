#pragma once
// A store under test on a real SQLite file in a fresh temporary directory, reopened at will to
// check what reached the disk:
//
//   class dns_store_test : public test::store_fixture<dns_store> {
//    protected:
//     dns_store_test() : store_fixture(test_steps) {}  // or no steps: every migration
//   };
//
// Tests use `store_` (and `db_` for raw SQL) and call `reopen()`.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "adapters/store/database.hpp"

namespace sc::test {

template <class Store>
class store_fixture : public ::testing::Test {
 protected:
  // `steps`: the migrations the store needs; empty for every migration of the server.
  explicit store_fixture(std::span<const store::migration> steps = {}) : steps_(steps) {}

  void SetUp() override {
    std::string pattern = "/tmp/sc-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    reopen();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void reopen() {
    store_.reset();
    db_.reset();
    const std::string file = (dir_ / "test.db").string();
    auto opened = steps_.empty() ? store::database::open(file) : store::database::open(file, steps_);
    ASSERT_TRUE(opened) << opened.error().internal;
    db_ = std::move(*opened);
    auto made = Store::open(*db_);
    ASSERT_TRUE(made) << made.error().internal;
    store_ = std::move(*made);
  }

  // Data members end in _ (STYLE.md §10); .clang-tidy gives the suffix to non-static ones only.
  std::filesystem::path dir_;
  std::unique_ptr<store::database> db_;
  std::unique_ptr<Store> store_;

 private:
  std::span<const store::migration> steps_;
};

}  // namespace sc::test
