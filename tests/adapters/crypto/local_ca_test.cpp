#include "adapters/crypto/local_ca.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/sandbox.hpp"

namespace sc::crypto {
namespace {

namespace fs = std::filesystem;

struct x509_free_t {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free_t>;

// Every certificate in `pem`, in order.
std::vector<x509_ptr> certificates_of(const std::string& pem) {
  std::vector<x509_ptr> out;
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* x = PEM_read_bio_X509(in, nullptr, nullptr, nullptr)) out.emplace_back(x);
  BIO_free(in);
  return out;
}

// Days from now until `time`.
int days_until(const ASN1_TIME* time) {
  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, time);
  return days;
}

// Verifies `leaf` against `ca` as a TLS server certificate for `host` (X509_STORE, purpose SSL server).
bool verifies(X509* ca, X509* leaf, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

class local_ca_test : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fs::path(sc::test::make_temp_dir("sc-local-ca")) / "tls"; }
  void TearDown() override { fs::remove_all(dir_.parent_path()); }
  fs::path dir_;
};

TEST_F(local_ca_test, is_created_once_with_a_private_key_only_root_reads) {
  auto ca = local_ca::open(dir_, "Town OS local CA (test)");
  ASSERT_TRUE(ca) << ca.error().detail;
  struct stat key {};
  ASSERT_EQ(::stat((dir_ / "ca.key").c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 0777, 0600u);
  struct stat directory {};
  ASSERT_EQ(::stat(dir_.c_str(), &directory), 0);
  EXPECT_EQ(directory.st_mode & 0777, 0700u);

  auto certificates = certificates_of((*ca)->certificate_pem());
  ASSERT_EQ(certificates.size(), 1u);
  X509* cert = certificates[0].get();
  EXPECT_EQ(X509_check_ca(cert), 1);
  int days = days_until(X509_get0_notAfter(cert));
  EXPECT_GE(days, 3649);
  EXPECT_LE(days, 3650);
  EVP_PKEY* key_of_cert = X509_get0_pubkey(cert);
  ASSERT_NE(key_of_cert, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key_of_cert), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key_of_cert), 256);
  EXPECT_EQ(X509_get_extension_flags(cert) & EXFLAG_SS, static_cast<std::uint32_t>(EXFLAG_SS));

  // Opened again: the same CA, never a new one behind the devices' back.
  auto again = local_ca::open(dir_, "another name");
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ((*again)->certificate_pem(), (*ca)->certificate_pem());
}

TEST_F(local_ca_test, leaves_verify_for_their_names_only) {
  auto ca = local_ca::open(dir_, "Town OS local CA (test)");
  ASSERT_TRUE(ca) << ca.error().detail;
  auto leaf = (*ca)->issue({"web.main.home", "www.web.main.home"});
  ASSERT_TRUE(leaf) << leaf.error().detail;
  auto chain = certificates_of(leaf->certificate_pem);
  ASSERT_EQ(chain.size(), 2u) << "the leaf, then the CA";
  auto roots = certificates_of((*ca)->certificate_pem());
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(X509_cmp(chain[1].get(), roots[0].get()), 0);
  EXPECT_TRUE(verifies(roots[0].get(), chain[0].get(), "web.main.home"));
  EXPECT_TRUE(verifies(roots[0].get(), chain[0].get(), "www.web.main.home"));
  EXPECT_FALSE(verifies(roots[0].get(), chain[0].get(), "other.main.home"));
  EXPECT_EQ(X509_check_ca(chain[0].get()), 0);
  int days = days_until(X509_get0_notAfter(chain[0].get()));
  EXPECT_GE(days, 396);
  EXPECT_LE(days, 397);

  // The key matches the leaf, and another CA's root does not verify it.
  BIO* key_in = BIO_new_mem_buf(leaf->key_pem.data(), static_cast<int>(leaf->key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_in, nullptr, nullptr, nullptr);
  BIO_free(key_in);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(chain[0].get(), key), 1);
  EVP_PKEY_free(key);
  auto stranger = local_ca::open(dir_.parent_path() / "other", "a stranger");
  ASSERT_TRUE(stranger);
  auto stranger_root = certificates_of((*stranger)->certificate_pem());
  EXPECT_FALSE(verifies(stranger_root[0].get(), chain[0].get(), "web.main.home"));
}

TEST_F(local_ca_test, a_leaf_is_kept_only_while_it_is_ours_names_the_same_hosts_and_has_time_left) {
  auto ca = local_ca::open(dir_, "Town OS local CA (test)");
  ASSERT_TRUE(ca) << ca.error().detail;
  auto leaf = (*ca)->issue({"web.main.home"});
  ASSERT_TRUE(leaf) << leaf.error().detail;
  EXPECT_TRUE((*ca)->still_valid(leaf->certificate_pem, {"web.main.home"}, 30));
  EXPECT_FALSE((*ca)->still_valid(leaf->certificate_pem, {"web.main.home"}, 400)) << "397 days is less than 400";
  EXPECT_FALSE((*ca)->still_valid(leaf->certificate_pem, {"web.other.home"}, 30)) << "another name";
  EXPECT_FALSE((*ca)->still_valid(leaf->certificate_pem, {"web.main.home", "x.main.home"}, 30));
  EXPECT_FALSE((*ca)->still_valid("not a certificate", {"web.main.home"}, 30));
  EXPECT_FALSE((*ca)->still_valid("", {"web.main.home"}, 30));
  auto stranger = local_ca::open(dir_.parent_path() / "other", "a stranger");
  ASSERT_TRUE(stranger);
  EXPECT_FALSE((*stranger)->still_valid(leaf->certificate_pem, {"web.main.home"}, 30)) << "signed by another CA";
}

TEST_F(local_ca_test, refuses_names_that_are_not_dns_names) {
  auto ca = local_ca::open(dir_, "Town OS local CA (test)");
  ASSERT_TRUE(ca) << ca.error().detail;
  const std::vector<std::string> bad = {"",
                                        "a..b",
                                        "-a.home",
                                        "a-.home",
                                        "a.home.",
                                        ".a",
                                        "A.home",
                                        "a b.home",
                                        "a,DNS:evil.com",
                                        "a\nb",
                                        "*.home",
                                        std::string(64, 'a') + ".home",
                                        std::string(254, 'a')};
  for (const auto& name : bad) {
    auto leaf = (*ca)->issue({name});
    ASSERT_FALSE(leaf) << name;
    EXPECT_EQ(leaf.error().status, 422) << name;
  }
  EXPECT_FALSE((*ca)->issue({}));
  EXPECT_FALSE((*ca)->issue(std::vector<std::string>(101, "a.home")));
  // Longer than a CN may be (64): the name lives in the subjectAltName alone.
  EXPECT_TRUE((*ca)->issue({std::string(63, 'a') + ".home"}));
  EXPECT_TRUE(local_ca::open(dir_.parent_path() / "long", "Town OS local CA (" + std::string(100, 'h') + ")"));
}

TEST_F(local_ca_test, a_certificate_without_its_key_is_an_error_a_key_without_its_certificate_is_replaced) {
  ASSERT_TRUE(local_ca::open(dir_, "first"));
  fs::path saved = dir_.parent_path() / "saved.key";
  fs::rename(dir_ / "ca.key", saved);
  auto keyless = local_ca::open(dir_, "first");
  ASSERT_FALSE(keyless);
  EXPECT_EQ(keyless.error().status, 500);

  // A key from another CA beside the certificate: refused, not mixed.
  auto other = local_ca::open(dir_.parent_path() / "other", "other");
  ASSERT_TRUE(other);
  fs::copy_file(dir_.parent_path() / "other" / "ca.key", dir_ / "ca.key");
  EXPECT_FALSE(local_ca::open(dir_, "first"));

  // A crash between the key's rename and the certificate's: a fresh pair.
  fs::remove(dir_ / "ca.crt");
  auto fresh = local_ca::open(dir_, "first");
  ASSERT_TRUE(fresh) << fresh.error().detail;
  EXPECT_TRUE(fs::exists(dir_ / "ca.crt"));
}

}  // namespace
}  // namespace sc::crypto
