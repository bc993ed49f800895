#pragma once
// Where the controller listens unless configured otherwise: the server's defaults
// (server/config.hpp) and the client's (tools/townctl) are these, so they cannot drift apart.

namespace sc::defaults {

inline constexpr const char* socket_path = "/run/town-os/systemcontroller.sock";
inline constexpr const char* tcp_port = "5309";
inline constexpr const char* listen = "0.0.0.0:5309";

}  // namespace sc::defaults
