#pragma once
// A journal entry as the API writes it (behavior-ops.md §8.4): PascalCase keys in the original's
// order, every value a string except MonotonicTimestamp, missing fields "", RealtimeTimestamp as
// RFC 3339 with nanoseconds at the server's UTC offset, bytes made valid UTF-8.

#include "adapters/journal/journal_reader.hpp"
#include "core/json_writer.hpp"

namespace sc::server {

// The server's current UTC offset in seconds (read once per call; cheap).
long local_utc_offset() noexcept;

void write_journal_entry(json_writer& writer, const journal::journal_entry& entry, long utc_offset_seconds);

}  // namespace sc::server
