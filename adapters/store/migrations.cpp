#include "adapters/store/database.hpp"

#include <array>

namespace sc::store {

std::span<const migration> schema_migrations() {
  static constexpr std::array<migration, 1> steps = {{
      {1, "settings",
       "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL DEFAULT '');"},
  }};
  return steps;
}

}  // namespace sc::store
