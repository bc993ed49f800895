#pragma once
// The package format (behavior-ops.md §6.1), parsed from YAML into typed structures. Parsing is
// pure and total: any input, however hostile, yields either a definition or a 422 problem whose
// `errors` name every offending field by its path ("network.internal.@port@", "questions.x.type").
//
// Maps keep document order (questions are shown in that order). Values stay raw here: markers
// (`@name@`) are resolved by compile (core/packages/compile.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/problem.hpp"

namespace sc::packages {

using string_pairs = std::vector<std::pair<std::string, std::string>>;

enum class runtime_kind { container, vm, proton };
std::string_view to_string(runtime_kind kind) noexcept;  // "container", "vm", "proton"

struct network_spec {
  string_pairs external;  // host side (number, semantic name or marker) → container side
  string_pairs internal;
  std::vector<std::string> domains;
  std::vector<std::string> direct;  // port keys published by the container itself
  string_pairs tls_mode;            // port key → "terminate" | "passthrough"
};

struct volume_spec {
  std::string name;
  std::string mountpoint;
  std::string quota;  // byte string or marker; empty: default_quota
  std::string archive;
  std::string git;
  std::optional<std::int64_t> uid;
  std::optional<std::int64_t> gid;
  bool shareable = false;
};

struct question_spec {
  std::string key;
  std::string query;
  std::string type;  // "" (free text), port, hostname, volume, bytes, duration, archive, secret, boolean, oauth
  std::optional<std::string> default_value;  // YAML scalars coerced to strings (gitea: default: 2222)
  bool optional = false;
  std::string show_if;               // name of a boolean question
  std::optional<std::string> oauth;  // the flow spec as JSON (a map), passed through as given
};

struct note_spec {
  std::string label;
  std::string value;
  std::string type;  // "", url, phone, email
};

struct template_spec {
  std::string name;
  std::string volume;
  std::string path;
  std::string content;  // Go text/template subset (core/packages/template.hpp)
};

struct dependency_spec {
  std::string key;
  std::string package;
  std::string repo;     // empty: the parent's repository
  std::string version;  // empty: the latest anywhere
  string_pairs responses;
  std::optional<std::string> expose;   // as JSON, kept as given
  std::optional<std::string> consume;  // as JSON: {from: key} or [{from: key}, …]
  std::vector<std::string> consumes;   // the `from` keys of consume
};

struct archive_spec {
  std::string image;
  std::string directory;
  std::string volume;
};

struct git_source_spec {
  std::string url;
  std::string branch;
  std::string volume;
};

struct package_definition {
  runtime_kind runtime = runtime_kind::container;
  std::string image;    // container: the raw reference (string form or {type: oci, url})
  string_pairs vm;      // vm: scalar fields (image, memory, cpus, …)
  string_pairs proton;  // proton: scalar fields (app_image, app_directory, …)
  std::vector<std::string> entrypoint;
  std::vector<std::string> command;
  string_pairs environment;
  network_spec network;
  std::vector<volume_spec> volumes;
  std::vector<question_spec> questions;
  std::vector<note_spec> notes;
  std::string description;
  std::vector<std::string> supplies;
  std::vector<archive_spec> archives;
  std::vector<git_source_spec> git_sources;
  std::vector<template_spec> templates;
  std::vector<dependency_spec> dependencies;
  std::vector<std::string> post_update;

  const question_spec* find_question(std::string_view key) const noexcept;
  const volume_spec* find_volume(std::string_view name) const noexcept;
};

// Limits on what a definition may be; a document beyond them is refused before or while parsing.
struct parse_limits {
  std::size_t max_bytes = 1 << 20;  // 1 MiB of YAML
  std::size_t max_depth = 32;       // nesting of maps and sequences
  std::size_t max_nodes = 50'000;   // after alias expansion (billion laughs)
  std::size_t max_scalar_bytes = std::size_t{256} * 1024;
};

// Parses and checks a definition. 422 with every problem as `errors[{field, message}]`;
// `detail` summarises ("invalid package definition: 3 problems").
result<package_definition> parse_definition(std::string_view yaml, const parse_limits& limits = {});

// The YAML document as JSON text (maps in document order, every scalar a string, null for empty),
// under the same limits: written by core/json_writer, read back by parse_definition with simdjson.
result<std::string> yaml_to_json(std::string_view yaml, const parse_limits& limits = {});

// Rules shared with the compiler and the request handlers.
bool valid_identifier(std::string_view key) noexcept;    // questions: ^[A-Za-z0-9][A-Za-z0-9_]*$
bool valid_volume_name(std::string_view name) noexcept;  // ^[A-Za-z0-9][A-Za-z0-9._-]*$
bool valid_port_name(std::string_view name) noexcept;    // ^[A-Za-z][A-Za-z0-9_]*$
bool contains_marker(std::string_view text) noexcept;    // holds an @name@ marker

}  // namespace sc::packages
