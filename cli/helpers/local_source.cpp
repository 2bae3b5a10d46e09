// LocalTokenSource: the fast path's tokens, from the local stores without the network.
#include "helpers.hpp"
#include "core/fs.hpp"
#include "store/audit.hpp"

#include <cstdlib>
#include "store/fresh_tokens.hpp"

namespace devicelogin::cli::helpers {

SourceResult<AccessToken> LocalTokenSource::access_token(const std::string& profile, long long min_ttl) {
  if (min_ttl < 0) return std::unexpected(SourceProblem{true, {}});
  // A short-lived process: the token file's walk leaves its parent, the state directory, open for
  // the audit trail's walk (core/fs.hpp).
  core::remember_walked_parent();
  // (load_fresh_local_tokens in two steps, to learn the profile's name when none was given.)
  auto local = store::open_local_token_source(profile);
  if (!local) return std::unexpected(SourceProblem{true, {}});
  auto tokens = store::fresh_local_tokens(*local, min_ttl);
  if (!tokens) return std::unexpected(SourceProblem{true, {}});
  handed_profile_ = local->profile_name;
#ifndef DEVICELOGIN_BENCH_WITHOUT_AUDIT
  // The name stored with the set (token_set.hpp), or worked out for a set an older version stored.
  handed_token_id_ = !tokens->access_token_id.empty() ? std::move(tokens->access_token_id)
                                                     : store::audit_token_id(tokens->access_token);
#endif
  // (bench/audit_hot_path.sh's baseline executable, cli/CMakeLists.txt, names nothing: no record.)
  return AccessToken{std::move(tokens->access_token), tokens->token_type, tokens->expires_at};
}

void LocalTokenSource::record_handout() {
  if (handed_token_id_.empty()) return;
  store::AuditEvent record;
  record.event = "handout";
  record.profile = handed_profile_;
  record.consumer = audit_consumer_;
  record.detail = audit_detail_;
  record.token_id = handed_token_id_;
  // The fast path runs only when there is no machine policy (cli/fast_main.cpp: a policy is the
  // full CLI's to enforce), so the audit settings are the defaults: the file, no journal (whose
  // copy would need libsystemd, which the lean executable does not link).
  store::audit_record(record, store::AuditSettings{});
  handed_token_id_.clear();
}

void audit_refusal(const std::string& profile, const std::string& consumer, const std::string& detail,
                   const std::string& reason) {
  store::AuditEvent record;
  record.event = "refusal";
  record.profile = profile;
  record.consumer = consumer;
  record.detail = detail;
  record.outcome = "refused";
  record.reason = reason;
  store::audit_record(record);
}

// Both refresh: the network, which only the full CLI has.
SourceResult<void> LocalTokenSource::refresh_if_current(const std::string& /*profile*/, const Secret& /*rejected*/) {
  return std::unexpected(SourceProblem{true, {}});
}

SourceResult<bool> LocalTokenSource::refresh_if_stored(const std::string& /*profile*/) {
  return std::unexpected(SourceProblem{true, {}});
}

}  // namespace devicelogin::cli::helpers
