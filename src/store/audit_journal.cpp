// The audit trail's copy in the systemd journal (sd_journal_send), when the settings ask for it.
// Structured fields, so that `journalctl DEVICELOGIN_EVENT=handout` selects the records.
#include <systemd/sd-journal.h>

#include "store/audit.hpp"

namespace devicelogin::store {

bool audit_journal_available() { return true; }

void audit_journal_send(const AuditEvent& event, const AuditProcess& process, std::string_view line) {
  const std::string message(line.substr(0, line.size() > 0 && line.back() == '\n' ? line.size() - 1 : line.size()));
  // Best effort: without a journal (a container, no systemd) the call fails and the file keeps
  // the record.
  (void)sd_journal_send("MESSAGE=devicelogin %s profile=%s consumer=%s outcome=%s", event.event.c_str(),
                        event.profile.c_str(), event.consumer.c_str(), event.outcome.c_str(), "PRIORITY=6",
                        "SYSLOG_IDENTIFIER=devicelogin", "DEVICELOGIN_EVENT=%s", event.event.c_str(),
                        "DEVICELOGIN_PROFILE=%s", event.profile.c_str(), "DEVICELOGIN_CONSUMER=%s",
                        event.consumer.c_str(), "DEVICELOGIN_DETAIL=%s", event.detail.c_str(),
                        "DEVICELOGIN_TOKEN_ID=%s", event.token_id.c_str(), "DEVICELOGIN_OUTCOME=%s",
                        event.outcome.c_str(), "DEVICELOGIN_PID=%lld", process.pid, "DEVICELOGIN_EXE=%s",
                        process.exe.c_str(), "DEVICELOGIN_RECORD=%s", message.c_str(), nullptr);
}

}  // namespace devicelogin::store
