#include "devicelogin/token_set.hpp"

namespace devicelogin {

TokenInfo token_info(const TokenSet& tokens) {
  return TokenInfo{tokens.token_type, tokens.expires_at, tokens.scope, tokens.subject,
                   !tokens.refresh_token.empty(), !tokens.id_token.empty(), tokens.clock_offset_s, {}};
}

}  // namespace devicelogin
