// The DNS zone's store against a real SQLite file: a zone is bounded (413 past dns::max_records,
// nothing stored), and what was added survives a reopen.
#include "adapters/store/dns_store.hpp"

#include <gtest/gtest.h>

#include <array>

#include "adapters/store/database.hpp"
#include "tests/support/store_fixture.hpp"

namespace sc::store {
namespace {

constexpr std::array<migration, 1> test_steps = {{{1, "dns", dns_schema}}};

class dns_store_test : public test::store_fixture<dns_store> {
 protected:
  dns_store_test() : store_fixture(test_steps) {}
  static dns::record a_record(std::size_t i) {
    auto made = dns::make_record(
        "h" + std::to_string(i), "A",
        "10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256),
        300, "home");
    EXPECT_TRUE(made);
    return *made;
  }
};

TEST_F(dns_store_test, an_oversized_zone_is_refused_with_413_and_nothing_is_stored) {
  for (std::size_t i = 0; i < dns::max_records; ++i) ASSERT_TRUE(store_->add(a_record(i))) << i;
  auto refused = store_->add(a_record(dns::max_records));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 413);
  EXPECT_EQ(store_->records().size(), dns::max_records);
  reopen();
  EXPECT_EQ(store_->records().size(), dns::max_records) << "the refused record was not stored either";
  // Room again once one goes.
  ASSERT_TRUE(store_->remove("h0", dns::record_type::a, ""));
  EXPECT_TRUE(store_->add(a_record(dns::max_records)));
}

TEST_F(dns_store_test, duplicates_are_409_and_records_survive_a_reopen) {
  ASSERT_TRUE(store_->add(a_record(1)));
  auto again = store_->add(a_record(1));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().status, 409);
  reopen();
  ASSERT_EQ(store_->records().size(), 1u);
  EXPECT_EQ(store_->records().front().name, "h1");
}

}  // namespace
}  // namespace sc::store
