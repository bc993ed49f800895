#pragma once
// Password hashing (argon2id via libargon2) and the random/digest primitives of sessions.
//
// Hashes are PHC strings: `$argon2id$v=19$m=65536,t=1,p=4$<salt b64>$<hash b64>` (unpadded base64,
// 16-byte salt, 32-byte key), as the original (behavior-core.md §6.1). Verification reads m/t/p
// from the stored string and compares in constant time.
//
// hash_password and verify_password cost ~64 MiB and tens of milliseconds each: they BLOCK, so call
// them only on a work_pool thread (adapters/pool/work_pool.hpp), never on the loop. All functions
// here are thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::crypto {

struct argon2_params {
  std::uint32_t memory_kib = 64 * 1024;
  std::uint32_t iterations = 1;
  std::uint32_t parallelism = 4;
};

// Blocking. 500 (internal) only if libargon2 or the random source fails.
result<std::string> hash_password(std::string_view password, const argon2_params& params = {});
// Blocking. False for a wrong password or a malformed/foreign hash string.
bool verify_password(std::string_view password, const std::string& phc) noexcept;
// A valid hash of a random password, made once (blocking, thread-safe): unknown usernames are
// verified against it so that they cost the same as known ones.
const std::string& dummy_hash();

// `bytes` random bytes (OpenSSL RAND_bytes) as lower-case hex.
std::string random_hex(std::size_t bytes);
// A session token: 256 random bits as 64 hex characters.
inline std::string random_token() {
  return random_hex(32);
}
// A random (version 4) UUID, lower-case.
std::string random_uuid();
// SHA-256 of `data` as 64 lower-case hex characters.
std::string sha256_hex(std::string_view data);

}  // namespace sc::crypto
