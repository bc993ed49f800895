// D-Bus supervision: connecting, noticing a lost connection and reconnecting with backoff.
#include <algorithm>

#include "core/log.hpp"
#include "server/app.hpp"
#include "server/app_parts.hpp"
#include "server/connection.hpp"
#include "server/systemd_service.hpp"

namespace sc::server {

void app::connect_dbus() {
  auto connected = systemd::connect_bus(io_, settings_.bus);
  if (!connected) {
    std::string reason = connected.error().internal.empty() ? connected.error().detail : connected.error().internal;
    if (reason != bus_error_) log::warning("D-Bus: " + reason);
    bus_error_ = std::move(reason);
    supervise_dbus();
    return;
  }
  bus_ = std::move(*connected);
  bus_error_.clear();
  dbus_link_->backoff = dbus_link::first_backoff;
  log::info("D-Bus: connected to " + settings_.bus);
  // Its matches now, not on the first request: the AddMatch round trip blocks (at start-up nothing
  // is served yet; after a reconnect it is one round trip on a local socket).
  systemd_->prepare(bus_.get());
  bus_->on_disconnect([this, bus = bus_.get()] {
    if (bus_.get() == bus) dbus_lost();
  });
}

void app::dbus_lost() {
  bus_error_ = "connection to " + settings_.bus + " lost; reconnecting";
  log::warning("D-Bus: " + bus_error_);
  auto manager = systemd_->release_manager();
  dbus_link_->lost.push_back({std::move(bus_), std::move(manager)});
  supervise_dbus();
}

void app::supervise_dbus() {
  if (dbus_link_->supervising || stopping_) return;
  dbus_link_->supervising = true;
  auto wait = bus_ ? dbus_link::first_backoff : dbus_link_->backoff;
  dbus_link_->retry.expires_after(wait);
  dbus_link_->retry.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled at shutdown: the app may be gone
    dbus_link_->supervising = false;
    if (stopping_) return;
    const bool serving = std::any_of(connections_.begin(), connections_.end(),
                                     [](const connection* c) { return c->state == connection::phase::busy; });
    if (!serving) dbus_link_->lost.clear();
    if (!bus_) {
      dbus_link_->backoff = std::min(dbus_link_->backoff * 2, dbus_link::longest_backoff);
      connect_dbus();  // re-arms supervision itself when it fails
    }
    if (!dbus_link_->lost.empty()) supervise_dbus();
  });
}

}  // namespace sc::server
