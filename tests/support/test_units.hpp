#pragma once
// Test unit files in the sandbox user manager's unit directory (SC_UNIT_DIR): unique names per
// process and test, removed again by the destructor. Shared by the systemd and journal suites.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>

namespace sc::test {

// "sc-test-<pid>-<n>-<tag>.service": unique within the process and across concurrent runs.
inline std::string unique_unit_name(std::string_view tag) {
  static std::atomic<int> counter{0};
  return "sc-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" + std::string(tag) +
         ".service";
}

// A random token for log markers, so that a test never matches an older run's lines.
inline std::string random_token() {
  static std::mt19937_64 generator{std::random_device{}()};
  return std::to_string(generator());
}

class test_unit_file {
 public:
  // Writes `<dir>/<name>` with `content`. The manager sees it after a reload.
  test_unit_file(std::string dir, std::string name, const std::string& content)
      : path_(std::filesystem::path(std::move(dir)) / name), name_(std::move(name)) {
    std::ofstream out(path_);
    out << content;
    out.close();
    if (!out) ADD_FAILURE() << "cannot write unit file " << path_;
  }
  ~test_unit_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  test_unit_file(const test_unit_file&) = delete;
  test_unit_file& operator=(const test_unit_file&) = delete;

  const std::string& name() const { return name_; }

 private:
  std::filesystem::path path_;
  std::string name_;
};

}  // namespace sc::test
