#include "server/system_services.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <map>

#include "adapters/asio/completion.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/log.hpp"
#include "core/units.hpp"
#include "server/systemd_service.hpp"
#include "server/unit_files.hpp"

namespace sc::server {

namespace asio = boost::asio;

namespace {

constexpr std::string_view controller_key = "systemcontroller";

// The controller's own restart, a second after the request that asked for it has been answered.
asio::awaitable<void> restart_controller_later(systemd_service& systemd, systemd::bus_connection* bus) {
  asio::steady_timer delay(co_await asio::this_coro::executor);
  delay.expires_after(std::chrono::seconds(1));
  co_await delay.async_wait(io_result);
  auto manager = co_await systemd.manager(bus);
  if (!manager) {
    log::error("restarting the controller: " + manager.error().detail);
    co_return;
  }
  auto job = co_await (*manager)->restart_unit(std::string(units::controller_unit), "replace");
  if (!job) log::error("restarting the controller: " + job.error().detail + " " + job.error().internal);
}

}  // namespace

struct system_services::apply_claim {
  std::shared_ptr<bool> flag;
  explicit apply_claim(const std::shared_ptr<bool>& applying) {
    if (!*applying) {
      *applying = true;
      flag = applying;
    }
  }
  ~apply_claim() {
    if (flag) *flag = false;
  }
  apply_claim(const apply_claim&) = delete;
  apply_claim& operator=(const apply_claim&) = delete;
  bool held() const noexcept { return flag != nullptr; }
};

namespace {

problem busy() {
  return problem::conflict("the system services are being written and started; try again shortly");
}

}  // namespace

system_services::system_services(asio::io_context& io, systemd_service& systemd, pool::work_queue& files, options opts)
    : io_(io), systemd_(systemd), files_(files), options_(std::move(opts)) {}

system_services::~system_services() = default;

void system_services::add(system_service_provider& provider) {
  providers_.push_back(&provider);
}

std::string system_services::unit_name(std::string_view key) {
  return std::string(units::system_unit_prefix) + std::string(key) + ".service";
}

system_service_provider* system_services::find(std::string_view key) const {
  for (auto* p : providers_) {
    if (p->key() == key) return p;
  }
  return nullptr;
}

asio::awaitable<result<systemd::systemd_manager*>> system_services::manager() {
  auto* bus = bus_ ? bus_() : nullptr;
  if (bus == nullptr) co_return problem::internal_error("systemd manager not available: no D-Bus connection");
  co_return co_await systemd_.manager(bus);
}

void system_services::start(std::function<systemd::bus_connection*()> bus) {
  bus_ = std::move(bus);
  if (providers_.empty()) return;
  asio::co_spawn(io_, reconcile_at_start(),
                 asio::bind_cancellation_slot(cancel_->slot(), log_escaped{"system services start-up"}));
}

void system_services::stop() {
  stopped_ = true;
  cancel_->emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> system_services::reconcile_at_start() {
  auto state = co_await asio::this_coro::cancellation_state;
  asio::steady_timer retry(io_);
  while (!(co_await manager())) {
    if (state.cancelled() != asio::cancellation_type::none || stopped_) co_return;
    retry.expires_after(std::chrono::seconds(1));
    co_await retry.async_wait(io_result);
  }
  apply_claim claim(applying_);
  for (auto* provider : providers_) {
    if (stopped_) co_return;
    if (auto applied = co_await apply(*provider, false); !applied) {
      log::error("system service " + std::string(provider->key()) + ": " + applied.error().detail + " " +
                 applied.error().internal);
    } else {
      log::info("system service " + std::string(provider->key()) + " reconciled");
    }
  }
}

asio::awaitable<result<void>> system_services::apply(system_service_provider& provider, bool force_restart) {
  if (auto written = co_await provider.write_files(); !written) co_return written.error();
  auto definition = provider.describe();
  if (!definition) co_return definition.error();
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  definition->unit.restart = "always";
  definition->unit.no_start_limit = true;
  definition->unit.wanted_by = options_.wanted_by;
  std::vector<unit_file> files{{unit_name(provider.key()), units::render_service_unit(definition->unit), {}, {}}};
  const bool changed = unit_files_differ(options_.unit_dir, files);
  unit_install request{options_.unit_dir, {}, std::move(files), true, changed || force_restart};
  co_return co_await install_unit_files(systemd_, **mgr, files_, std::move(request));
}

asio::awaitable<result<std::vector<system_service_status>>> system_services::statuses() {
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  std::vector<system_service_status> rows;
  std::vector<std::string> patterns;
  for (auto* p : providers_) {
    system_service_status row;
    row.unit = unit_name(p->key());
    row.key = std::string(p->key());
    row.display_name = std::string(p->display_name());
    patterns.push_back(row.unit);
    rows.push_back(std::move(row));
  }
  system_service_status controller;
  controller.unit = std::string(units::controller_unit);
  controller.key = std::string(controller_key);
  controller.display_name = "System Controller";
  controller.port = options_.controller_port ? options_.controller_port() : std::string();
  patterns.push_back(controller.unit);
  rows.push_back(std::move(controller));

  std::vector<std::string> states;
  std::vector<std::string> unit_patterns = patterns;
  auto listed = co_await (*mgr)->list_units_by_patterns(std::move(states), std::move(unit_patterns));
  if (!listed) co_return listed.error();
  std::vector<std::string> file_states;
  auto files = co_await (*mgr)->list_unit_files_by_patterns(std::move(file_states), std::move(patterns));
  if (!files) co_return files.error();
  std::map<std::string, const systemd::unit_status*, std::less<>> by_name;
  for (const auto& u : *listed) by_name.emplace(u.name, &u);
  std::map<std::string, std::string, std::less<>> file_state_of;
  for (const auto& f : *files) file_state_of.emplace(f.name, f.state);
  for (auto& row : rows) {
    if (auto found = by_name.find(row.unit); found != by_name.end()) {
      row.description = found->second->description;
      row.load_state = found->second->load_state;
      row.active_state = found->second->active_state;
      row.sub_state = found->second->sub_state;
    }
    if (auto found = file_state_of.find(row.unit); found != file_state_of.end()) row.unit_file_state = found->second;
  }
  for (std::size_t i = 0; i < providers_.size(); ++i) {
    auto definition = providers_[i]->describe();
    if (!definition) continue;
    rows[i].image = definition->image;
    rows[i].port = definition->port;
  }
  co_return rows;
}

asio::awaitable<result<void>> system_services::set_status(std::string key, std::string action) {
  if (providers_.empty()) co_return problem::not_found("no system services configured");
  if (action == "enable" || action == "disable")
    co_return problem::bad_request("action \"" + action + "\" is not allowed for system services");
  if (action != "start" && action != "stop" && action != "restart")
    co_return problem::bad_request("invalid action \"" + action + "\": must be start, stop or restart");
  if (key == controller_key) {
    if (action == "stop") co_return problem::bad_request("cannot stop the system controller from its own API");
    if (action == "restart") {
      asio::co_spawn(io_, restart_controller_later(systemd_, bus_ ? bus_() : nullptr),
                     log_escaped{"controller restart"});
    }
    co_return result<void>{};
  }
  auto* provider = find(key);
  if (provider == nullptr) co_return problem::bad_request("unknown system service key \"" + key + "\"");
  if (action == "start" || action == "restart") {
    apply_claim claim(applying_);
    if (!claim.held()) co_return busy();
    co_return co_await apply(*provider, action == "restart");
  }
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  auto job = co_await (*mgr)->stop_unit(unit_name(key), "replace");
  if (!job) {
    problem failure = job.error();
    failure.detail = "set status: " + failure.detail;
    co_return failure;
  }
  if (*job != "done") co_return problem::internal_error("set status: stopping " + unit_name(key) + ": " + *job);
  co_return result<void>{};
}

asio::awaitable<result<std::string>> system_services::refresh() {
  apply_claim claim(applying_);
  if (!claim.held()) co_return busy();
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  std::string errors;
  for (auto* provider : providers_) {
    if (auto applied = co_await apply(*provider, false); !applied) {
      if (!errors.empty()) errors += "; ";
      errors += std::string(provider->key()) + ": " + applied.error().detail;
      log::error("refreshing system service " + std::string(provider->key()) + ": " + applied.error().detail + " " +
                 applied.error().internal);
    }
  }
  co_return errors;
}

asio::awaitable<result<void>> system_services::restart_service(std::string key) {
  auto* provider = find(key);
  if (provider == nullptr) co_return problem::unavailable("the system service " + key + " is not configured");
  apply_claim claim(applying_);
  if (!claim.held()) co_return busy();
  co_return co_await apply(*provider, true);
}

asio::awaitable<bool> system_services::active(std::string key) {
  if (find(key) == nullptr) co_return false;
  auto mgr = co_await manager();
  if (!mgr) co_return false;
  auto state = co_await (*mgr)->get_unit_property(unit_name(key), "ActiveState");
  co_return state&&* state == "active";
}

}  // namespace sc::server
