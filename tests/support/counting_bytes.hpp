#pragma once
// Deterministic randomness for the package tests' auto-generated answers (the `random_bytes` of an
// auto_answer_context): a counter, so generated secrets differ from each other and tests repeat.

#include <cstddef>

namespace sc::test {

inline void counting_bytes(unsigned char* out, std::size_t n) {
  static unsigned counter = 0;
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(++counter * 37u);
}

}  // namespace sc::test
