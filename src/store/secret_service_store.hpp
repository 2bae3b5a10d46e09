#pragma once
// The `secret-service` TokenStore: the freedesktop Secret Service over D-Bus (GNOME Keyring,
// KWallet, KeePassXC) through libsecret. Only this backend's object library links libsecret, so
// the lean `devicelogin` executable never loads D-Bus or GLib.
#include <chrono>
#include <memory>

#include "devicelogin/result.hpp"
#include "devicelogin/advanced/token_store.hpp"

namespace devicelogin::store {

// One Secret Service item per profile in the default collection, holding the token set's JSON
// (store/token_codec.hpp): schema "org.devicelogin.TokenSet", attributes {"application":
// "devicelogin", "profile": NAME}, label "devicelogin tokens (profile NAME)". A save replaces the
// item as a whole, so readers see the old or the new set.
//
// Every operation finishes within `timeout` (connecting to the bus, activating the service,
// unlocking and the item calls together), else fails with kStorage "the Secret Service did not
// answer within N s". A missing session bus or service, and a locked default collection, fail
// with kStorage messages that name the way out (--store kernel-keyring / --store file).
// A locked collection that the service would unlock only through a prompt is reported as locked,
// unless `unlock_prompt_timeout` is positive: then the prompt is shown (on the desktop) and the
// operation waits up to that long for the user. The default never prompts: a command run over
// SSH must not wait on a dialog nobody sees.
[[nodiscard]] std::unique_ptr<TokenStore> make_secret_service_token_store(
    std::chrono::milliseconds timeout = std::chrono::seconds(5),
    std::chrono::milliseconds unlock_prompt_timeout = std::chrono::milliseconds(0));

// Succeeds when a session bus answers, a Secret Service is on it and its default collection is
// unlocked (or unlocks without a prompt), all within `timeout`; otherwise the kStorage error the
// store itself would report. Used by `--store auto`. Never shows a prompt.
[[nodiscard]] Result<void> probe_secret_service(std::chrono::milliseconds timeout);

}  // namespace devicelogin::store
