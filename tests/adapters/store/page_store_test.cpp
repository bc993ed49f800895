// The pages table against a real SQLite file: names and domains are unique, updates and removals
// reach the disk, and what was stored survives a reopen.
#include "adapters/store/page_store.hpp"

#include <gtest/gtest.h>

#include <array>

#include "adapters/store/database.hpp"
#include "tests/support/store_fixture.hpp"

namespace sc::store {
namespace {

constexpr std::array<migration, 1> test_steps = {{{1, "pages", pages_schema}}};

class page_store_test : public test::store_fixture<page_store> {
 protected:
  page_store_test() : store_fixture(test_steps) {}
  static pages::page make(std::string name, std::string domain) {
    pages::page_request r;
    r.name = std::move(name);
    r.domain = std::move(domain);
    return *pages::make_page(r, "2026-01-01T00:00:00Z");
  }
};

TEST_F(page_store_test, names_and_domains_are_unique_and_rows_survive_a_reopen) {
  ASSERT_TRUE(store_->insert(make("zeta", "zeta.home")));
  ASSERT_TRUE(store_->insert(make("alpha", "alpha.home")));
  EXPECT_EQ(store_->insert(make("alpha", "other.home")).error().status, 409);
  EXPECT_EQ(store_->insert(make("beta", "zeta.home")).error().status, 409);

  auto changed = *store_->find("alpha");
  changed.status = "active";
  changed.content = "site-1";
  changed.domain = "zeta.home";
  EXPECT_EQ(store_->update(changed).error().status, 409);
  changed.domain = "a.example.org";
  ASSERT_TRUE(store_->update(changed));
  EXPECT_EQ(store_->update(make("nobody", "n.home")).error().status, 404);

  reopen();
  ASSERT_EQ(store_->all().size(), 2U);
  EXPECT_EQ(store_->all()[0].name, "alpha");  // sorted by name
  const auto* alpha = store_->find_domain("a.example.org");
  ASSERT_NE(alpha, nullptr);
  EXPECT_EQ(alpha->status, "active");
  EXPECT_EQ(alpha->content, "site-1");
  EXPECT_EQ(alpha->branch, "main");

  ASSERT_TRUE(store_->remove("alpha"));
  EXPECT_EQ(store_->remove("alpha").error().status, 404);
  reopen();
  EXPECT_EQ(store_->all().size(), 1U);
  EXPECT_EQ(store_->find("alpha"), nullptr);
}

}  // namespace
}  // namespace sc::store
