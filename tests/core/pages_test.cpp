// Static pages' rules (core/pages.hpp): names, domains (ValidatePageDomain), sources per type, the
// partial update, and the list contract.
#include "core/pages.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

namespace sc::pages {
namespace {

page_request named(std::string name) {
  page_request r;
  r.name = std::move(name);
  return r;
}

std::string field_of(const problem& p) {
  return p.errors.empty() ? std::string() : p.errors.front().field;
}

TEST(pages_rules, names_are_dns_labels) {
  for (const std::string& good :
       {std::string("a"), std::string("blog"), std::string("my-site"), std::string("x1"), std::string(63, 'a')}) {
    EXPECT_TRUE(validate_name(good)) << good;
  }
  for (const char* bad : {"", "-a", "a-", "A", "a.b", "a/b", "..", "a b", "a_b", "é"}) {
    auto checked = validate_name(bad);
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(checked.error().status, 422);
    EXPECT_EQ(field_of(checked.error()), "name");
  }
  EXPECT_FALSE(validate_name(std::string(64, 'a')));
}

TEST(pages_rules, domains_are_lower_cased_ldh_names) {
  EXPECT_EQ(*validate_domain("Blog.Example.COM"), "blog.example.com");
  EXPECT_EQ(*validate_domain("blog"), "blog");
  EXPECT_EQ(*validate_domain("a-b.c1.home"), "a-b.c1.home");
  std::string long_ok = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                        std::string(61, 'd');  // 253
  EXPECT_TRUE(validate_domain(long_ok));
  for (const std::string& bad :
       {std::string(), std::string("a..b"), std::string(".a"), std::string("a."), std::string("-a.home"),
        std::string("a-.home"), std::string("a_b.home"), std::string("a/b"), std::string("../etc"),
        std::string("10.0.0.1"), std::string("a.123"), std::string(64, 'a') + ".home", long_ok + "e",
        std::string("a b.home"), std::string("a\n.home")}) {
    auto checked = validate_domain(bad);
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(checked.error().status, 422);
    EXPECT_EQ(field_of(checked.error()), "domain");
  }
}

TEST(pages_rules, sources_are_checked_per_type) {
  EXPECT_TRUE(validate_repo_url("https://example.com/site.git"));
  EXPECT_TRUE(validate_repo_url("file:///srv/site"));
  EXPECT_TRUE(validate_repo_url("git://example.com/site"));
  for (const char* bad : {"", "ssh://git@example.com/x", "ext::sh -c id", "-uhttps://x", "https://u:p@example.com/x",
                          "ftp://example.com/x", "https://example.com/a b"}) {
    auto checked = validate_repo_url(bad);
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(field_of(checked.error()), "repo_url") << bad;
  }
  EXPECT_TRUE(validate_branch("main"));
  EXPECT_TRUE(validate_branch("release/1.2"));
  for (const char* bad : {"", "-f", "/x", "a..b", "a b", "x.lock", "a//b", "a;b"}) EXPECT_FALSE(validate_branch(bad));
  EXPECT_TRUE(validate_image("localhost/busybox:latest"));
  EXPECT_TRUE(validate_image("docker.io/library/nginx@sha256:abc"));
  for (const char* bad : {"", "-x", "a b", "a/../b", "/abs", "a$b"}) EXPECT_FALSE(validate_image(bad));
  EXPECT_EQ(*validate_image_directory("/www/"), "/www");
  EXPECT_EQ(*validate_image_directory("//srv//www"), "/srv/www");
  EXPECT_EQ(*validate_image_directory("/"), "/");
  for (const char* bad : {"", "www", "/a/../etc", "/a/./b", "/a\nb", "/a\tb"}) {
    auto checked = validate_image_directory(bad);
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(field_of(checked.error()), "image_directory");
  }
}

TEST(pages_rules, make_page_defaults_and_requires_what_the_source_needs) {
  auto made = make_page(named("blog"), "2026-01-01T00:00:00Z");
  ASSERT_TRUE(made) << made.error().detail;
  EXPECT_EQ(made->source, source_type::archive);
  EXPECT_EQ(made->domain, "blog");
  EXPECT_EQ(made->branch, "main");
  EXPECT_EQ(made->status, "pending");
  EXPECT_EQ(made->created_at, "2026-01-01T00:00:00Z");

  auto git = named("docs");
  git.source_type = "git";
  EXPECT_EQ(field_of(make_page(git, "t").error()), "repo_url");
  git.repo_url = "file:///srv/docs";
  git.domain = "Docs.Home";
  auto made_git = make_page(git, "t");
  ASSERT_TRUE(made_git);
  EXPECT_EQ(made_git->domain, "docs.home");

  auto image = named("img");
  image.source_type = "container_image";
  EXPECT_EQ(field_of(make_page(image, "t").error()), "image");
  image.image = "localhost/busybox:latest";
  EXPECT_EQ(field_of(make_page(image, "t").error()), "image_directory");
  image.image_directory = "/www/";
  ASSERT_TRUE(make_page(image, "t"));
  EXPECT_EQ(make_page(image, "t")->image_directory, "/www");

  auto odd = named("odd");
  odd.source_type = "ftp";
  EXPECT_EQ(field_of(make_page(odd, "t").error()), "source_type");
  EXPECT_EQ(field_of(make_page(named("Bad"), "t").error()), "name");
  EXPECT_EQ(field_of(make_page(page_request{}, "t").error()), "name");
}

TEST(pages_rules, merge_update_changes_only_what_is_named) {
  auto git = named("docs");
  git.source_type = "git";
  git.repo_url = "file:///srv/docs";
  page current = *make_page(git, "t0");
  current.content = "site-1";
  page_request changes;
  changes.domain = "docs.example.org";
  auto merged = merge_update(current, changes, "t1");
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->domain, "docs.example.org");
  EXPECT_EQ(merged->repo_url, "file:///srv/docs");
  EXPECT_EQ(merged->content, "site-1");
  EXPECT_EQ(merged->updated_at, "t1");
  EXPECT_EQ(merged->created_at, "t0");
  EXPECT_FALSE(source_changed(current, *merged));

  page_request branch;
  branch.branch = "gh-pages";
  EXPECT_TRUE(source_changed(current, *merge_update(current, branch, "t2")));
  page_request bad;
  bad.repo_url = "ssh://x/y";
  EXPECT_EQ(field_of(merge_update(current, bad, "t").error()), "repo_url");
  page_request to_image;
  to_image.source_type = "container_image";
  EXPECT_EQ(field_of(merge_update(current, to_image, "t").error()), "image");
  page_request empty_domain;
  empty_domain.domain = "";
  EXPECT_EQ(merge_update(current, empty_domain, "t")->domain, "docs");
}

TEST(pages_rules, list_sorts_searches_and_pages) {
  std::vector<page> items;
  for (const char* name : {"charlie", "alpha", "bravo"}) items.push_back(*make_page(named(name), "t"));
  items[0].status = "active";
  list_query query;
  query.sort_by = "name";
  query.sort_order = "asc";
  query.limit = 2;
  auto page1 = paginate(items, query, list_fields());
  ASSERT_EQ(page1.entries.size(), 2U);
  EXPECT_EQ(page1.entries[0]->name, "alpha");
  EXPECT_TRUE(page1.counts.has_more);
  EXPECT_EQ(page1.counts.total_pages, 2U);
  query.search = "activ";
  query.limit = 20;
  auto searched = paginate(items, query, list_fields());
  ASSERT_EQ(searched.entries.size(), 1U);
  EXPECT_EQ(searched.entries[0]->name, "charlie");
  auto parsed = boost::json::parse(json_string([&](json_writer& w) { write_json(w, items[0]); }));
  const auto& json = parsed.as_object();
  EXPECT_EQ(json.at("source_type").as_string(), "archive");
  EXPECT_FALSE(json.contains("content"));
  for (const char* key : {"name", "repo_url", "branch", "image", "image_directory", "domain", "status", "error",
                          "network", "created_at", "updated_at"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
}

}  // namespace
}  // namespace sc::pages
