#include "adapters/crypto/local_ca.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <optional>
#include <string_view>
#include <system_error>

#include "adapters/file_io/small_files.hpp"

namespace sc::crypto {

namespace fs = std::filesystem;

namespace {

template <auto Free>
struct openssl_deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BN_free>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;

// The reason OpenSSL queued for the failing call (and an empty queue after).
problem failure(std::string_view what) {
  unsigned long code = ERR_get_error();
  std::array<char, 256> text{};
  if (code != 0) ERR_error_string_n(code, text.data(), text.size());
  ERR_clear_error();
  return problem::internal_error(std::string("local CA: ") + std::string(what) + ": " +
                                 (code != 0 ? text.data() : "unknown error"));
}

result<pkey_ptr> new_key() {
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") <= 0 ||
      EVP_PKEY_keygen(ctx.get(), &key) <= 0) {
    return failure("P-256 key generation");
  }
  return pkey_ptr(key);
}

result<void> add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  extension_ptr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value.c_str()));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) return failure("extension " + value);
  return {};
}

struct certificate_spec {
  EVP_PKEY* subject_key = nullptr;
  std::string common_name;
  int validity_days = 0;
  std::vector<std::pair<int, std::string>> extensions;
};

// A certificate for `spec`, signed by `signer` as `issuer` (both null: self-signed).
result<x509_ptr> make_certificate(const certificate_spec& spec, X509* issuer, EVP_PKEY* signer) {
  x509_ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return failure("X509_new");
  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) return failure("serial");
  serial[0] &= 0x7F;  // positive
  bignum_ptr number(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!number || BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return failure("serial");
  }
  // An hour back: a device whose clock runs a little behind still accepts a fresh certificate.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.validity_days, 0, nullptr) == nullptr) {
    return failure("validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const auto* organisation = reinterpret_cast<const unsigned char*>("Town OS");
  const auto* common_name = reinterpret_cast<const unsigned char*>(spec.common_name.c_str());
  // A CN holds at most 64 characters (RFC 5280 ub-common-name); a longer name lives in the
  // subjectAltName only, which is what TLS clients match anyway.
  if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, organisation, -1, -1, 0) != 1 ||
      (spec.common_name.size() <= 64 &&
       X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, common_name, -1, -1, 0) != 1)) {
    return failure("subject");
  }
  X509* issuing = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuing)) != 1 ||
      X509_set_pubkey(cert.get(), spec.subject_key) != 1) {
    return failure("issuer");
  }
  for (const auto& [nid, value] : spec.extensions) {
    if (auto added = add_extension(cert.get(), issuing, nid, value); !added) return added.error();
  }
  if (X509_sign(cert.get(), signer != nullptr ? signer : spec.subject_key, EVP_sha256()) <= 0) return failure("sign");
  return cert;
}

std::string to_pem(X509* cert, EVP_PKEY* key) {
  bio_ptr out(BIO_new(BIO_s_mem()));
  if (!out) return {};
  if (cert != nullptr) PEM_write_bio_X509(out.get(), cert);
  if (key != nullptr) PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

bool valid_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else {
      bool letter_or_digit = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!letter_or_digit && (c != '-' || label == 0)) return false;
      if (++label > 63) return false;
    }
    previous = c;
  }
  return label != 0 && previous != '-';
}

}  // namespace

struct local_ca::keys {
  pkey_ptr key;
  x509_ptr certificate;
};

local_ca::local_ca(std::unique_ptr<keys> k, std::string pem) : keys_(std::move(k)), certificate_pem_(std::move(pem)) {}
local_ca::~local_ca() = default;

result<std::unique_ptr<local_ca>> local_ca::open(const fs::path& directory, const std::string& common_name) {
  const fs::path key_path = directory / "ca.key";
  const fs::path certificate_path = directory / "ca.crt";
  auto key_text = file_io::read_small_file(key_path);
  auto certificate_text = file_io::read_small_file(certificate_path);
  auto k = std::make_unique<keys>();
  if (certificate_text) {
    // Devices may trust this certificate already: it is never replaced behind their back.
    if (!key_text) {
      return problem::internal_error("local CA: " + certificate_path.string() + " exists without its key " +
                                     key_path.string());
    }
    bio_ptr key_in(BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
    bio_ptr certificate_in(BIO_new_mem_buf(certificate_text->data(), static_cast<int>(certificate_text->size())));
    if (!key_in || !certificate_in) return failure("BIO_new_mem_buf");
    k->key.reset(PEM_read_bio_PrivateKey(key_in.get(), nullptr, nullptr, nullptr));
    k->certificate.reset(PEM_read_bio_X509(certificate_in.get(), nullptr, nullptr, nullptr));
    if (!k->key || !k->certificate) return failure("reading " + directory.string());
    if (X509_check_private_key(k->certificate.get(), k->key.get()) != 1) {
      return failure(certificate_path.string() + " and " + key_path.string() + " do not belong together");
    }
    std::string pem = to_pem(k->certificate.get(), nullptr);
    return std::unique_ptr<local_ca>(new local_ca(std::move(k), std::move(pem)));
  }
  // None yet (a key without its certificate was never handed out: a crash between the two renames).
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) return problem::internal_error("local CA: creating " + directory.string() + ": " + ec.message());
  fs::permissions(directory, fs::perms::owner_all, ec);
  auto key = new_key();
  if (!key) return key.error();
  certificate_spec spec{key->get(),
                        common_name.substr(0, 64),
                        ca_validity_days,
                        {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                         {NID_key_usage, "critical,keyCertSign,cRLSign"},
                         {NID_subject_key_identifier, "hash"}}};
  auto certificate = make_certificate(spec, nullptr, nullptr);
  if (!certificate) return certificate.error();
  k->key = std::move(*key);
  k->certificate = std::move(*certificate);
  if (auto written = file_io::write_file_atomic(key_path, to_pem(nullptr, k->key.get()), 0600); !written)
    return written.error();
  std::string pem = to_pem(k->certificate.get(), nullptr);
  if (auto written = file_io::write_file_atomic(certificate_path, pem, 0644); !written) return written.error();
  return std::unique_ptr<local_ca>(new local_ca(std::move(k), std::move(pem)));
}

result<issued_certificate> local_ca::issue(const std::vector<std::string>& dns_names) const {
  if (dns_names.empty() || dns_names.size() > 100) {
    return problem::unprocessable("names", "a certificate names 1 to 100 DNS names");
  }
  std::string alt_names;
  for (const auto& name : dns_names) {
    if (!valid_dns_name(name)) return problem::unprocessable("names", "invalid DNS name \"" + name + "\"");
    alt_names += (alt_names.empty() ? "DNS:" : ",DNS:") + name;
  }
  auto key = new_key();
  if (!key) return key.error();
  certificate_spec spec{key->get(),
                        dns_names.front(),
                        leaf_validity_days,
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "serverAuth"},
                         {NID_subject_alt_name, alt_names},
                         {NID_subject_key_identifier, "hash"},
                         {NID_authority_key_identifier, "keyid:always"}}};
  auto certificate = make_certificate(spec, keys_->certificate.get(), keys_->key.get());
  if (!certificate) return certificate.error();
  return issued_certificate{to_pem(certificate->get(), nullptr) + certificate_pem_, to_pem(nullptr, key->get())};
}

bool local_ca::still_valid(const std::string& certificate_pem, const std::vector<std::string>& dns_names,
                           int days) const {
  bio_ptr in(BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  if (!in) return false;
  x509_ptr leaf(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!leaf) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(keys_->certificate.get());
  if (ca_key == nullptr || X509_verify(leaf.get(), ca_key) != 1) {
    ERR_clear_error();
    return false;
  }
  // Valid `days` from now: notAfter is later than now + days.
  if (X509_cmp_time(X509_get0_notAfter(leaf.get()), nullptr) <= 0) return false;
  std::unique_ptr<ASN1_TIME, openssl_deleter<ASN1_TIME_free>> horizon(X509_time_adj_ex(nullptr, days, 0, nullptr));
  if (!horizon || ASN1_TIME_compare(X509_get0_notAfter(leaf.get()), horizon.get()) <= 0) return false;
  std::vector<std::string> names;
  std::unique_ptr<GENERAL_NAMES, openssl_deleter<GENERAL_NAMES_free>> alt(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!alt) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(alt.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt.get(), i);
    if (name->type != GEN_DNS) return false;
    const ASN1_STRING* text = name->d.dNSName;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                       static_cast<std::size_t>(ASN1_STRING_length(text)));
  }
  return names == dns_names;
}

}  // namespace sc::crypto
