#include "core/packages/podman_unit.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>

#include "core/names.hpp"

namespace sc::packages {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool plain_argument_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' || c == ':' || c == '=' ||
         c == ',' || c == '+' || c == '@' || c == '-';
}

// The body of a quoted systemd value: C escapes for quotes, backslashes and control characters,
// `%%` for a literal '%' (specifiers are expanded inside quotes too).
std::string escape_quoted(std::string_view text, bool dollars) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '%':
        out += "%%";
        break;
      case '$':
        out += dollars ? "$$" : "$";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(hex_digits[c >> 4]);
          out.push_back(hex_digits[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  return out;
}

// A line value of a unit file that systemd does not unquote (Description=): control characters
// dropped, specifiers escaped, bounded.
std::string unit_text(std::string_view text) {
  std::string out;
  for (char ch : text.substr(0, 200)) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) continue;
    if (c == '%') out.push_back('%');
    out.push_back(ch);
  }
  while (!out.empty() && out.back() == '\\') out.pop_back();  // no line continuation
  return out;
}

bool absolute_path_without(std::string_view path, std::string_view forbidden) {
  return !path.empty() && path.front() == '/' && path.find_first_of(forbidden) == std::string_view::npos &&
         !has_control_characters(path) && path.find('\t') == std::string_view::npos;
}

std::string join_units(const std::vector<std::string>& containers) {
  std::string out;
  for (const auto& c : containers) {
    if (!out.empty()) out.push_back(' ');
    out += c + ".service";
  }
  return out;
}

std::string env_file_path(const planned_container& container, const podman_unit_options& options) {
  if (container.secret_environment.empty()) return {};
  return options.secrets_directory + "/" + container.name + ".env";
}

}  // namespace

std::string systemd_quote(std::string_view argument) {
  if (argument == ";") return "\\;";
  bool plain = !argument.empty();
  for (char c : argument) plain = plain && plain_argument_char(c);
  if (plain) return std::string(argument);
  return "\"" + escape_quoted(argument, true) + "\"";
}

std::string systemd_command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out.push_back(' ');
    out += systemd_quote(a);
  }
  return out;
}

std::vector<std::string> podman_run_argv(const planned_container& container, const podman_unit_options& options) {
  std::vector<std::string> argv{options.podman, "run", "--replace", "--rm", "--pull=never", "--name", container.name};
  if (options.split_cgroups) argv.emplace_back("--cgroups=split");
  argv.emplace_back("--label");
  argv.push_back("io.town-os.package=" + container.ref.repo + "/" + container.ref.effective_name + "@" +
                 container.ref.version);
  argv.emplace_back("--network");
  argv.push_back(container.network);
  for (const auto& alias : container.network_aliases) {
    argv.emplace_back("--network-alias");
    argv.push_back(alias);
  }
  for (const auto& p : container.ports) {
    if (p.exposure != port_exposure::host) continue;
    argv.emplace_back("-p");
    argv.push_back(std::to_string(p.host) + ":" + std::to_string(p.container) + "/tcp");
  }
  if (auto path = env_file_path(container, options); !path.empty()) {
    argv.emplace_back("--env-file");
    argv.push_back(std::move(path));
  }
  for (const auto& e : container.environment) {
    argv.emplace_back("-e");
    argv.push_back(e.key + "=" + e.value);
  }
  for (const auto& v : container.volumes) {
    argv.emplace_back("-v");
    argv.push_back(options.btrfs_root + "/" + v.subvolume + ":" + v.mountpoint + ":rw");
  }
  if (!container.entrypoint.empty()) {
    boost::json::array entrypoint;
    for (const auto& e : container.entrypoint) entrypoint.emplace_back(e);
    argv.push_back("--entrypoint=" + boost::json::serialize(entrypoint));
  }
  argv.push_back(container.image);
  for (const auto& c : container.command) argv.push_back(c);
  return argv;
}

std::string render_env_file(const planned_container& container) {
  std::string out;
  for (const auto& e : container.secret_environment) out += e.key + "=" + e.value + "\n";
  return out;
}

result<std::vector<rendered_container>> render_podman_units(const install_plan& plan,
                                                            const podman_unit_options& options) {
  if (!absolute_path_without(options.podman, " :,\"'\\%$")) return problem::internal_error("podman path is not usable");
  if (!absolute_path_without(options.btrfs_root, ":,\"'\\%$ "))
    return problem::internal_error("btrfs root is not usable in a volume argument");
  if (!absolute_path_without(options.secrets_directory, ":,\"'\\%$ "))
    return problem::internal_error("secrets directory is not usable");

  std::vector<rendered_container> out;
  for (const auto& c : plan.containers) {
    for (const auto& e : c.secret_environment) {
      if (e.value.find('\n') != std::string::npos || e.value.find('\r') != std::string::npos ||
          e.key.find_first_of("=# \t") != std::string::npos) {
        return problem::unprocessable("environment." + e.key, "cannot be passed in an environment file");
      }
    }
    rendered_container r;
    r.container = c.name;
    r.unit_name = c.name + ".service";
    r.exec_start = podman_run_argv(c, options);
    r.env_file = env_file_path(c, options);
    r.env_file_content = render_env_file(c);

    std::string u;
    u += "# Generated by systemcontroller for " + c.ref.repo + "/" + c.ref.effective_name + "@" + c.ref.version +
         "; regenerated, never edited.\n";
    u += "[Unit]\n";
    u += "Description=" +
         unit_text(c.description.empty()
                       ? "Town OS Package Service: " + c.ref.repo + "/" + c.ref.effective_name + "@" + c.ref.version
                       : "Town OS: " + c.description) +
         "\n";
    if (!c.requires_containers.empty()) u += "Wants=" + join_units(c.requires_containers) + "\n";
    u += "After=" + (c.requires_containers.empty() ? std::string() : join_units(c.requires_containers) + " ") +
         "network-online.target\n";
    if (!c.parent.empty()) {
      u += "PartOf=" + c.parent + ".service\n";
      u += "Before=" + c.parent + ".service\n";
    }
    u += "\n[Service]\n";
    u += "Type=simple\n";
    u += "Slice=" + c.slice + "\n";
    if (!options.system_bus_address.empty()) {
      u += "Environment=\"DBUS_SYSTEM_BUS_ADDRESS=" + escape_quoted(options.system_bus_address, false) + "\"\n";
    }
    if (options.split_cgroups) {
      u += "Delegate=yes\n";
      u += "KillMode=mixed\n";
    }
    // The network may exist already (another start, a sibling): that failure is expected.
    u += "ExecStartPre=-" + systemd_command_line({options.podman, "network", "create", c.network}) + "\n";
    u += "ExecStart=" + systemd_command_line(r.exec_start) + "\n";
    u += "ExecStop=-" +
         systemd_command_line(
             {options.podman, "stop", "--ignore", "-t", std::to_string(options.stop_timeout.count()), c.name}) +
         "\n";
    u += "ExecStopPost=-" + systemd_command_line({options.podman, "rm", "-f", "--ignore", c.name}) + "\n";
    u += "Restart=on-failure\n";
    u += "RestartSec=" + std::to_string(options.restart_delay.count()) + "\n";
    u += "SuccessExitStatus=143 137\n";
    u += "TimeoutStartSec=" + std::to_string(options.start_timeout.count()) + "\n";
    u += "TimeoutStopSec=" + std::to_string(options.stop_timeout.count() + 30) + "\n";
    if (c.parent.empty()) {
      u += "\n[Install]\n";
      u += "WantedBy=" + options.wanted_by + "\n";
    }
    r.unit = std::move(u);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sc::packages
