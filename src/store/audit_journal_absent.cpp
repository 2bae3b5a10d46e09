// Builds without libsystemd, and the lean executable (static, core + store only): no journal.
#include "store/audit.hpp"

namespace devicelogin::store {

bool audit_journal_available() { return false; }

void audit_journal_send(const AuditEvent& /*event*/, const AuditProcess& /*process*/, std::string_view /*line*/) {}

}  // namespace devicelogin::store
