#include "server/journal_json.hpp"

#include <ctime>

#include "core/journal_query.hpp"

namespace sc::server {

namespace {

void text(json_writer& writer, std::string_view key, const std::string& value) {
  writer.key(key);
  if (journal_query::is_valid_utf8(value)) {
    writer.value(value);
  } else {
    writer.value(journal_query::to_valid_utf8(value));
  }
}

}  // namespace

long local_utc_offset() noexcept {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  if (localtime_r(&now, &parts) == nullptr) return 0;
  return parts.tm_gmtoff;
}

void write_journal_entry(json_writer& writer, const journal::journal_entry& e, long utc_offset_seconds) {
  writer.begin_object();
  text(writer, "Cursor", e.cursor);
  writer.key("RealtimeTimestamp").value(journal_query::format_rfc3339_nano(e.realtime_usec, utc_offset_seconds));
  writer.key("MonotonicTimestamp").value(e.monotonic_usec);
  text(writer, "Message", e.message);
  text(writer, "MessageID", e.message_id);
  text(writer, "Priority", e.priority);
  text(writer, "CodeFile", e.code_file);
  text(writer, "CodeLine", e.code_line);
  text(writer, "CodeFunc", e.code_func);
  text(writer, "Errno", e.error_number);
  text(writer, "SyslogFacility", e.syslog_facility);
  text(writer, "SyslogIdentifier", e.syslog_identifier);
  text(writer, "SyslogPID", e.syslog_pid);
  text(writer, "PID", e.pid);
  text(writer, "UID", e.uid);
  text(writer, "GID", e.gid);
  text(writer, "Comm", e.comm);
  text(writer, "Exe", e.exe);
  text(writer, "Cmdline", e.cmdline);
  text(writer, "CapEffective", e.cap_effective);
  text(writer, "AuditSession", e.audit_session);
  text(writer, "AuditLoginUID", e.audit_loginuid);
  text(writer, "SystemdCGroup", e.systemd_cgroup);
  text(writer, "SystemdSession", e.systemd_session);
  text(writer, "SystemdUnit", e.systemd_unit);
  text(writer, "SystemdUserUnit", e.systemd_user_unit);
  text(writer, "SystemdOwnerUID", e.systemd_owner_uid);
  text(writer, "SystemdSlice", e.systemd_slice);
  text(writer, "SELinuxContext", e.selinux_context);
  text(writer, "SourceRealtimeTimestamp", e.source_realtime_timestamp);
  text(writer, "BootID", e.boot_id);
  text(writer, "MachineID", e.machine_id);
  text(writer, "Hostname", e.hostname);
  text(writer, "Transport", e.transport);
  writer.end_object();
}

}  // namespace sc::server
