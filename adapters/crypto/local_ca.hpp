#pragma once
// The box's own certificate authority (issue 15): the household's devices trust it once (GET
// /tls/ca.crt), and every package's name gets a leaf certificate from it for the HTTPS ingress.
// Made with OpenSSL's API, never a shelled-out `openssl` (no key material in argv or temp files).
//
//   * The CA: ECDSA P-256, valid 10 years, basicConstraints CA:TRUE with pathlen 0, keyUsage
//     keyCertSign and cRLSign; created once in `directory` (ca.key 0600, ca.crt 0644, both written
//     to a temporary file and renamed, so a crash leaves the old pair or none) and loaded after.
//   * Leaves: ECDSA P-256, valid 397 days (inside the 398 browsers accept), subjectAltName DNS
//     names, extendedKeyUsage serverAuth, signed by the CA with SHA-256; random 128-bit serials.
//
// Not thread-safe; the keys stay in memory of this object only.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace sc::crypto {

struct issued_certificate {
  std::string certificate_pem;  // the leaf, then the CA (the chain a server presents)
  std::string key_pem;          // PKCS#8, unencrypted: write it 0600
};

class local_ca {
 public:
  // Loads ca.key and ca.crt from `directory`, or creates them (and the directory, 0700) when
  // neither exists. 500 when only one of them exists or they do not belong together.
  static result<std::unique_ptr<local_ca>> open(const std::filesystem::path& directory, const std::string& common_name);
  ~local_ca();
  local_ca(const local_ca&) = delete;
  local_ca& operator=(const local_ca&) = delete;

  // The CA certificate, PEM.
  const std::string& certificate_pem() const noexcept { return certificate_pem_; }

  // A leaf for `dns_names` (1..100 names, each a valid DNS name, the first also the subject CN).
  result<issued_certificate> issue(const std::vector<std::string>& dns_names) const;
  // Whether `certificate_pem` (a leaf first, as issue() makes it) was signed by this CA, names
  // exactly `dns_names` and is valid for at least `days` more: a leaf to keep rather than reissue.
  bool still_valid(const std::string& certificate_pem, const std::vector<std::string>& dns_names, int days) const;

  static constexpr int ca_validity_days = 3650;
  static constexpr int leaf_validity_days = 397;

 private:
  struct keys;
  explicit local_ca(std::unique_ptr<keys> k, std::string pem);
  std::unique_ptr<keys> keys_;
  std::string certificate_pem_;
};

}  // namespace sc::crypto
