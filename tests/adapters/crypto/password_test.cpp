#include "adapters/crypto/password.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>

namespace sc::crypto {
namespace {

// Shape checks without std::regex (GCC 12 reports false -Wmaybe-uninitialized inside it at -O1).
bool all_of_set(std::string_view text, std::string_view allowed) {
  return std::all_of(text.begin(), text.end(), [&](char c) { return allowed.find(c) != std::string_view::npos; });
}
constexpr std::string_view base64_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view hex_chars = "0123456789abcdef";

bool is_phc_argon2id(std::string_view hash) {
  constexpr std::string_view prefix = "$argon2id$v=19$m=65536,t=1,p=4$";
  if (!hash.starts_with(prefix)) return false;
  hash.remove_prefix(prefix.size());
  auto dollar = hash.find('$');
  return dollar == 22 && all_of_set(hash.substr(0, 22), base64_chars) && hash.size() == 22 + 1 + 43 &&
         all_of_set(hash.substr(23), base64_chars);
}

bool is_uuid_v4(std::string_view id) {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-') return false;
  if (id[14] != '4' || std::string_view("89ab").find(id[19]) == std::string_view::npos) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i != 8 && i != 13 && i != 18 && i != 23 && hex_chars.find(id[i]) == std::string_view::npos) return false;
  }
  return true;
}

TEST(password, argon2id_phc_format_and_verify) {
  auto hash = hash_password("correct-horse");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(is_phc_argon2id(*hash)) << *hash;
  EXPECT_TRUE(verify_password("correct-horse", *hash));
  EXPECT_FALSE(verify_password("correct-horsf", *hash));
  EXPECT_NE(*hash, *hash_password("correct-horse"));  // salted
}

TEST(password, malformed_or_foreign_hashes_never_verify) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "$argon2i$v=19$m=65536,t=1,p=4$c2FsdHNhbHQ$aGFzaA"));
  EXPECT_FALSE(verify_password("x", "$argon2id$garbage"));
  EXPECT_FALSE(verify_password("anything", dummy_hash()));
}

TEST(password, tokens_digests_and_uuids) {
  std::string token = random_token();
  EXPECT_EQ(token.size(), 64u);
  EXPECT_NE(token, random_token());
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string id = random_uuid();
  EXPECT_TRUE(is_uuid_v4(id)) << id;
  EXPECT_FALSE(is_uuid_v4("not-a-uuid"));
}

}  // namespace
}  // namespace sc::crypto
