#pragma once
// Compile: a parsed definition plus answers → the package as it will be installed (behavior-ops.md
// §6.1–6.2). Every field that takes markers gets them — including `command` and `entrypoint`,
// unlike the original (the issue decides: markers are applied consistently). Ports become numbers,
// quotas byte counts, the image a normalised reference. Values that reach a unit file or argv are
// refused when they hold control characters, wherever the character came from.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/packages/definition.hpp"
#include "core/packages/template.hpp"

namespace sc::packages {

struct compile_context {
  std::string repo;
  std::string name;
  std::string version;
  std::string effective_name;  // name, or <name>-<instance>, or <parent>--dep--<key>
  std::string dns_tld = "home";
  std::string external_host;  // @LOCAL_EXTERNAL_HOST@
  std::string internal_host;  // @LOCAL_INTERNAL_HOST@
};

struct port_mapping {
  int host = 0;
  int container = 0;
  std::string name;  // the semantic name ("http", "ssh"), or empty
  std::string key;   // the key as written (after substitution), for direct / tls_mode
};

struct compiled_volume {
  std::string name;
  std::string mountpoint;
  std::string quota;              // the compiled text ("" when unset)
  std::uint64_t quota_bytes = 0;  // 0: default_quota applies
  std::string archive;
  std::string git;
  std::optional<std::int64_t> uid;
  std::optional<std::int64_t> gid;
  bool shareable = false;
};

struct compiled_package {
  runtime_kind runtime = runtime_kind::container;
  std::string image;            // substituted, as written
  std::string image_reference;  // normalised: docker.io/library/nginx:latest
  string_pairs vm;
  string_pairs proton;
  std::vector<std::string> entrypoint;
  std::vector<std::string> command;
  string_pairs environment;
  std::vector<port_mapping> external_ports;
  std::vector<port_mapping> internal_ports;
  std::vector<std::string> domains;
  std::vector<std::string> direct;
  string_pairs tls_mode;
  std::vector<compiled_volume> volumes;
  std::vector<note_spec> notes;
  std::vector<template_spec> templates;       // volume, path and content substituted
  std::vector<dependency_spec> dependencies;  // response values substituted
  std::vector<std::string> post_update;
  std::vector<std::string> supplies;
  std::string description;
  marker_values answers;  // normalised answers by question key ("" for optional / hidden)
};

// The normalisation of behavior-ops.md §6.1: nginx → docker.io/library/nginx:latest, etc.
std::string normalize_image(std::string_view image);

// 422 on failure. Answer problems carry the original's messages with the question key as the field
// ("response does not match a prompt question", "question has no response", "empty response",
// "response does not match the expected type"); other problems name the compiled field.
result<compiled_package> compile(const package_definition& def, const compile_context& context,
                                 const marker_values& answers);

}  // namespace sc::packages
