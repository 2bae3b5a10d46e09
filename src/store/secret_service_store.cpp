#include "store/secret_service_store.hpp"

#include <libsecret/secret.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/sanitize.hpp"
#include "store/token_codec.hpp"

namespace devicelogin::store {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kSchemaName = "org.devicelogin.TokenSet";
constexpr const char* kApplication = "devicelogin";

// The persistent identity of our items: changing a name here orphans every stored token set.
const SecretSchema* token_schema() {
  static const SecretSchema schema = {
      .name = kSchemaName,
      .flags = SECRET_SCHEMA_NONE,
      .attributes = {{"application", SECRET_SCHEMA_ATTRIBUTE_STRING},
                     {"profile", SECRET_SCHEMA_ATTRIBUTE_STRING},
                     {nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING}},
      .reserved = 0,
      .reserved1 = nullptr,
      .reserved2 = nullptr,
      .reserved3 = nullptr,
      .reserved4 = nullptr,
      .reserved5 = nullptr,
      .reserved6 = nullptr,
      .reserved7 = nullptr,
  };
  return &schema;
}

// ---- GLib ownership ----

struct GObjectUnref {
  void operator()(gpointer object) const noexcept { g_object_unref(object); }
};
template <class T>
using GRef = std::unique_ptr<T, GObjectUnref>;

struct GErrorFree {
  void operator()(GError* error) const noexcept { g_error_free(error); }
};
using GErrorPtr = std::unique_ptr<GError, GErrorFree>;

// Collects a GError out-parameter: `call(..., error.out())`.
class ErrorSlot {
 public:
  ErrorSlot() = default;
  ErrorSlot(const ErrorSlot&) = delete;
  ErrorSlot& operator=(const ErrorSlot&) = delete;
  ~ErrorSlot() {
    if (error_ != nullptr) g_error_free(error_);
  }
  GError** out() noexcept { return &error_; }
  const GError* get() const noexcept { return error_; }

 private:
  GError* error_ = nullptr;
};

struct HashTableUnref {
  void operator()(GHashTable* table) const noexcept { g_hash_table_unref(table); }
};
using GHashTablePtr = std::unique_ptr<GHashTable, HashTableUnref>;

struct VariantUnref {
  void operator()(GVariant* variant) const noexcept { g_variant_unref(variant); }
};
using GVariantPtr = std::unique_ptr<GVariant, VariantUnref>;

struct SecretValueUnref {
  void operator()(SecretValue* value) const noexcept { secret_value_unref(value); }
};
using SecretValuePtr = std::unique_ptr<SecretValue, SecretValueUnref>;

// The items of a GList returned by a search, each holding one reference.
class ItemList {
 public:
  explicit ItemList(GList* list) : list_(list) {}
  ItemList(const ItemList&) = delete;
  ItemList& operator=(const ItemList&) = delete;
  ~ItemList() { g_list_free_full(list_, g_object_unref); }
  std::vector<SecretItem*> items() const {
    std::vector<SecretItem*> out;
    for (GList* node = list_; node != nullptr; node = node->next) out.push_back(static_cast<SecretItem*>(node->data));
    return out;
  }

 private:
  GList* list_;
};

// ---- Time limits ----

// Cancels a GCancellable when time runs out. libsecret's synchronous calls spin a private main
// context of their own, so a GLib timeout source cannot reach them; a watcher thread can, since
// g_cancellable_cancel is thread-safe and every call below takes this cancellable.
class Deadline {
 public:
  explicit Deadline(milliseconds budget)
      : cancellable_(g_cancellable_new()), until_(SteadyClock::now() + budget), watcher_([this] { watch(); }) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
    }
    changed_.notify_all();
    watcher_.join();
    g_object_unref(cancellable_);
  }

  GCancellable* cancellable() const noexcept { return cancellable_; }
  // True once the time ran out and the cancellable was cancelled.
  bool expired() const noexcept { return expired_.load(); }
  // Restarts the clock with a new budget (for a prompt the user has to answer).
  void restart(milliseconds budget) {
    {
      std::lock_guard lock(mutex_);
      until_ = SteadyClock::now() + budget;
    }
    changed_.notify_all();
  }

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!finished_) {
      if (SteadyClock::now() >= until_) {
        expired_.store(true);
        lock.unlock();
        g_cancellable_cancel(cancellable_);
        return;
      }
      changed_.wait_until(lock, until_);
    }
  }

  GCancellable* cancellable_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool finished_ = false;
  SteadyClock::time_point until_;
  std::atomic<bool> expired_{false};
  std::thread watcher_;  // last: starts once everything it reads exists
};

// ---- Errors ----

Error storage_error(std::string message) { return fail(ErrorCode::kStorage, std::move(message)).error(); }

std::string describe_duration(milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + " s";
  return std::to_string(duration.count()) + " ms";
}

Error no_service_error(const std::string& detail) {
  return with_remedy(storage_error("no Secret Service on the session bus (" + detail + ")"), Remedy::kChooseStore, {},
                     "kernel-keyring,file");
}

Error locked_error() {
  return with_remedy(storage_error("the keyring is locked; unlock it (e.g. log in to the desktop)"), Remedy::kChooseStore,
                     {}, "kernel-keyring");
}

Error timeout_error(milliseconds timeout) {
  return storage_error("the Secret Service did not answer within " + describe_duration(timeout));
}

// GLib and D-Bus messages can quote peer-supplied text: keep them printable and short.
std::string clean_detail(const char* text) {
  std::string out = sanitize_text(text == nullptr ? "" : text);
  constexpr std::size_t kMaxLength = 160;
  if (out.size() > kMaxLength) out = out.substr(0, kMaxLength) + "...";
  return out;
}

std::string remote_error_name(const GError* error) {
  gchar* name = g_dbus_error_get_remote_error(error);
  std::string out = name == nullptr ? "" : name;
  g_free(name);
  return out;
}

enum class Stage {
  kConnect,  // reaching the bus and the service
  kCall,     // talking to a service that answered
  kPrompt,   // waiting for the user to answer an unlock prompt
};

Error error_from(const GError* error, const Deadline& deadline, milliseconds timeout, Stage stage) {
  if (deadline.expired()) return stage == Stage::kPrompt ? locked_error() : timeout_error(timeout);
  if (error == nullptr) return storage_error("the Secret Service failed without an error message");
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    return fail(ErrorCode::kCancelled, "the Secret Service call was cancelled").error();
  }
  if (g_error_matches(error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED)) return locked_error();
  const std::string name = remote_error_name(error);
  if (name == "org.freedesktop.DBus.Error.ServiceUnknown" || name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
      name.starts_with("org.freedesktop.DBus.Error.Spawn.") ||
      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)) {
    return no_service_error("org.freedesktop.secrets is not provided: no keyring daemon is running or installed");
  }
  if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout" ||
      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
      g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    return timeout_error(timeout);
  }
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED) || name == "org.freedesktop.DBus.Error.Disconnected") {
    return no_service_error("the session bus connection closed");
  }
  if (stage == Stage::kConnect && name.empty()) {
    return no_service_error("cannot connect to the session bus: " + clean_detail(error->message));
  }
  if (stage == Stage::kPrompt) return locked_error();
  return storage_error("the Secret Service failed: " + (name.empty() ? clean_detail(error->message) : clean_detail(name.c_str())));
}

// ---- Connecting ----

// GLib would autolaunch a bus (spawning dbus-launch, which can block without a timeout) when
// DBUS_SESSION_BUS_ADDRESS is unset, unless $XDG_RUNTIME_DIR/bus exists (systemd's user bus),
// which it uses directly. Refuse everything else before GLib gets the chance.
Result<void> check_session_bus_address() {
  const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (address != nullptr && *address != '\0') {
    if (std::string_view(address).starts_with("autolaunch:")) {
      return std::unexpected(no_service_error("DBUS_SESSION_BUS_ADDRESS asks for an autolaunched bus"));
    }
    return {};
  }
  const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  if (runtime_dir != nullptr && *runtime_dir == '/') {
    struct stat info {};
    const std::string bus = std::string(runtime_dir) + "/bus";
    if (::stat(bus.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) return {};
  }
  return std::unexpected(no_service_error("DBUS_SESSION_BUS_ADDRESS is not set"));
}

// The service with an open session, and its default collection, unlocked.
struct Connection {
  GRef<SecretService> service;
  GRef<SecretCollection> collection;
};

// Asks the service to unlock `collection` without showing anything: true when it did, false when
// it wants a prompt (which is then dismissed).
Result<bool> unlock_without_prompt(SecretService* service, SecretCollection* collection, Deadline& deadline,
                                   milliseconds timeout) {
  const gchar* path = g_dbus_proxy_get_object_path(G_DBUS_PROXY(collection));
  ErrorSlot error;
  GVariantPtr reply(g_dbus_proxy_call_sync(G_DBUS_PROXY(service), "Unlock",
                                           g_variant_new("(@ao)", g_variant_new_objv(&path, 1)),
                                           G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, deadline.cancellable(),
                                           error.out()));
  if (!reply) return std::unexpected(error_from(error.get(), deadline, timeout, Stage::kCall));
  GVariantIter* unlocked = nullptr;
  const gchar* prompt = nullptr;
  g_variant_get(reply.get(), "(ao&o)", &unlocked, &prompt);
  bool done = false;
  const gchar* unlocked_path = nullptr;
  while (g_variant_iter_next(unlocked, "&o", &unlocked_path)) {
    if (g_strcmp0(unlocked_path, path) == 0) done = true;
  }
  g_variant_iter_free(unlocked);
  if (!done && prompt != nullptr && g_strcmp0(prompt, "/") != 0) {
    // Nobody will answer it: dismiss it so the service does not keep it around (best effort).
    GVariantPtr dismissed(g_dbus_connection_call_sync(
        g_dbus_proxy_get_connection(G_DBUS_PROXY(service)), g_dbus_proxy_get_name(G_DBUS_PROXY(service)), prompt,
        "org.freedesktop.Secret.Prompt", "Dismiss", nullptr, nullptr, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
        deadline.cancellable(), nullptr));
  }
  return done;
}

Result<Connection> connect(Deadline& deadline, milliseconds timeout, milliseconds unlock_prompt_timeout) {
  if (auto address = check_session_bus_address(); !address) return std::unexpected(address.error());
  Connection connection;
  // libsecret keeps one service proxy per process; when its bus connection has closed since (the
  // bus restarted), drop it and connect afresh, once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    ErrorSlot error;
    connection.service.reset(secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, deadline.cancellable(), error.out()));
    if (!connection.service) return std::unexpected(error_from(error.get(), deadline, timeout, Stage::kConnect));
    if (!g_dbus_connection_is_closed(g_dbus_proxy_get_connection(G_DBUS_PROXY(connection.service.get())))) break;
    connection.service.reset();
    secret_service_disconnect();
  }
  if (!connection.service) return std::unexpected(no_service_error("the session bus connection closed"));
  // GLib's shared session-bus connection exits the whole process when the bus goes away: a
  // library must not do that to the program that links it.
  g_dbus_connection_set_exit_on_close(g_dbus_proxy_get_connection(G_DBUS_PROXY(connection.service.get())), FALSE);
  {
    ErrorSlot error;
    connection.collection.reset(secret_collection_for_alias_sync(
        connection.service.get(), SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE, deadline.cancellable(), error.out()));
    if (!connection.collection) {
      if (error.get() != nullptr) return std::unexpected(error_from(error.get(), deadline, timeout, Stage::kCall));
      return std::unexpected(with_remedy(
          storage_error("the Secret Service has no default keyring; create one (e.g. log in to the desktop)"),
          Remedy::kChooseStore, {}, "kernel-keyring"));
    }
  }
  if (!secret_collection_get_locked(connection.collection.get())) return connection;

  if (unlock_prompt_timeout <= milliseconds(0)) {
    auto unlocked = unlock_without_prompt(connection.service.get(), connection.collection.get(), deadline, timeout);
    if (!unlocked) return std::unexpected(unlocked.error());
    if (!*unlocked) return std::unexpected(locked_error());
    return connection;
  }

  // The user may unlock it through the service's prompt; waiting for a person gets its own budget.
  deadline.restart(unlock_prompt_timeout);
  GList* collections = g_list_append(nullptr, connection.collection.get());
  ErrorSlot error;
  GList* unlocked_objects = nullptr;
  const gint count = secret_service_unlock_sync(connection.service.get(), collections, deadline.cancellable(),
                                                &unlocked_objects, error.out());
  g_list_free(collections);
  g_list_free_full(unlocked_objects, g_object_unref);
  if (count < 1) {
    if (error.get() == nullptr && !deadline.expired()) return std::unexpected(locked_error());
    return std::unexpected(error_from(error.get(), deadline, timeout, Stage::kPrompt));
  }
  deadline.restart(timeout);
  return connection;
}

// ---- The store ----

// Attribute tables point into `profile`, which must outlive them.
GHashTablePtr attributes_for(const std::string& profile) {
  GHashTable* table = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(table, const_cast<char*>("application"), const_cast<char*>(kApplication));
  g_hash_table_insert(table, const_cast<char*>("profile"), const_cast<char*>(profile.c_str()));
  return GHashTablePtr(table);
}

std::string label_for(const std::string& profile) { return "devicelogin tokens (profile " + profile + ")"; }

class SecretServiceTokenStore final : public TokenStore {
 public:
  SecretServiceTokenStore(milliseconds timeout, milliseconds unlock_prompt_timeout)
      : timeout_(timeout), unlock_prompt_timeout_(unlock_prompt_timeout) {}

  Result<std::optional<TokenSet>> load(const std::string& profile) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    Deadline deadline(timeout_);
    auto connection = connect(deadline, timeout_, unlock_prompt_timeout_);
    if (!connection) return std::unexpected(connection.error());
    auto attributes = attributes_for(profile);
    ErrorSlot error;
    ItemList found(secret_collection_search_sync(connection->collection.get(), token_schema(), attributes.get(),
                                                 static_cast<SecretSearchFlags>(SECRET_SEARCH_ALL |  // NOLINT(clang-analyzer-optin.core.EnumCastOutOfRange): libsecret flags are ORed
                                                                                SECRET_SEARCH_LOAD_SECRETS),
                                                 deadline.cancellable(), error.out()));
    if (error.get() != nullptr) return std::unexpected(error_from(error.get(), deadline, timeout_, Stage::kCall));
    // We always replace our one item; should a copy have appeared anyway, the newest wins.
    SecretItem* newest = nullptr;
    for (SecretItem* item : found.items()) {
      if (newest == nullptr || secret_item_get_modified(item) > secret_item_get_modified(newest)) newest = item;
    }
    if (newest == nullptr) return std::optional<TokenSet>{};
    SecretValuePtr value(secret_item_get_secret(newest));
    if (!value) return std::unexpected(locked_error());
    gsize length = 0;
    const gchar* bytes = secret_value_get(value.get(), &length);
    // libsecret keeps the value in its wiping secure memory; our copy wipes itself too.
    Secret text(std::string_view(bytes == nullptr ? "" : bytes, length));
    value.reset();
    auto tokens = decode_token_set(text.reveal());
    if (!tokens) return fail(ErrorCode::kStorage, tokens.error().message + " (" + location(profile) + ")");
    return std::optional<TokenSet>{std::move(*tokens)};
  }

  Result<void> save(const std::string& profile, const TokenSet& tokens) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    Deadline deadline(timeout_);
    auto connection = connect(deadline, timeout_, unlock_prompt_timeout_);
    if (!connection) return std::unexpected(connection.error());
    auto attributes = attributes_for(profile);
    Secret encoded = encode_token_set(tokens);
    if (auto size = check_token_set_size(encoded.size(), "the Secret Service"); !size) return size;
    // secret_value_new copies into libsecret's secure memory, wiped when freed; the session
    // opened by connect() encrypts it on the bus when the service supports that.
    // The length is given: libsecret does not read up to a terminator.
    SecretValuePtr value(secret_value_new(encoded.reveal().data(), static_cast<gssize>(encoded.size()), "text/plain"));  // NOLINT(bugprone-suspicious-stringview-data-usage)
    encoded.wipe();
    ErrorSlot error;
    // REPLACE: the service swaps the item with these attributes for the new one in one call.
    GRef<SecretItem> item(secret_item_create_sync(connection->collection.get(), token_schema(), attributes.get(),
                                                  label_for(profile).c_str(), value.get(), SECRET_ITEM_CREATE_REPLACE,
                                                  deadline.cancellable(), error.out()));
    if (!item) return std::unexpected(error_from(error.get(), deadline, timeout_, Stage::kCall));
    return {};
  }

  Result<bool> remove(const std::string& profile) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    Deadline deadline(timeout_);
    auto connection = connect(deadline, timeout_, unlock_prompt_timeout_);
    if (!connection) return std::unexpected(connection.error());
    auto attributes = attributes_for(profile);
    ErrorSlot search_error;
    ItemList found(secret_collection_search_sync(connection->collection.get(), token_schema(), attributes.get(),
                                                 SECRET_SEARCH_ALL, deadline.cancellable(), search_error.out()));
    if (search_error.get() != nullptr) {
      return std::unexpected(error_from(search_error.get(), deadline, timeout_, Stage::kCall));
    }
    bool removed = false;
    for (SecretItem* item : found.items()) {
      ErrorSlot error;
      if (!secret_item_delete_sync(item, deadline.cancellable(), error.out())) {
        return std::unexpected(error_from(error.get(), deadline, timeout_, Stage::kCall));
      }
      removed = true;
    }
    return removed;
  }

  // Writes a probe item of kMaxTokenSetBytes (attribute profile "NAME#capacity-probe", which no
  // profile can have) and deletes it: the service proves it stores a set that large.
  Result<void> check_capacity(const std::string& profile) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    Deadline deadline(timeout_);
    auto connection = connect(deadline, timeout_, unlock_prompt_timeout_);
    if (!connection) return std::unexpected(connection.error());
    const std::string probe_profile = profile + "#capacity-probe";
    auto attributes = attributes_for(probe_profile);
    const std::string filler(kMaxTokenSetBytes, 'x');
    SecretValuePtr value(secret_value_new(filler.data(), static_cast<gssize>(filler.size()), "text/plain"));
    ErrorSlot error;
    GRef<SecretItem> item(secret_item_create_sync(connection->collection.get(), token_schema(), attributes.get(),
                                                  "devicelogin capacity probe (deleted at once)", value.get(),
                                                  SECRET_ITEM_CREATE_REPLACE, deadline.cancellable(), error.out()));
    if (!item) {
      Error cause = error_from(error.get(), deadline, timeout_, Stage::kCall);
      cause.message = "the Secret Service did not store a " + std::to_string(kMaxTokenSetBytes) +
                      "-byte probe item, so a token set may not fit (" + cause.message +
                      "); free room in the keyring, log out of profiles no longer used, or use another token store";
      return std::unexpected(cause);
    }
    ErrorSlot delete_error;
    if (!secret_item_delete_sync(item.get(), deadline.cancellable(), delete_error.out())) {
      return std::unexpected(error_from(delete_error.get(), deadline, timeout_, Stage::kCall));
    }
    return {};
  }

  std::string name() const override { return "secret-service"; }
  std::string location(const std::string& profile) const override {
    return "Secret Service default keyring, item \"" + label_for(profile) + "\"";
  }

 private:
  milliseconds timeout_;
  milliseconds unlock_prompt_timeout_;
};

}  // namespace

std::unique_ptr<TokenStore> make_secret_service_token_store(milliseconds timeout, milliseconds unlock_prompt_timeout) {
  return std::make_unique<SecretServiceTokenStore>(timeout, unlock_prompt_timeout);
}

Result<void> probe_secret_service(milliseconds timeout) {
  Deadline deadline(timeout);
  auto connection = connect(deadline, timeout, milliseconds(0));
  if (!connection) return std::unexpected(connection.error());
  return {};
}

}  // namespace devicelogin::store
