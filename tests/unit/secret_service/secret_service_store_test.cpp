// The secret-service TokenStore. Each group (test suite) is its own ctest (see CMakeLists.txt):
//  - SecretServiceUnavailable: no keyring needed (unset bus address, dead socket, silent bus);
//  - SecretServiceNoDaemon: a private dbus-daemon with no Secret Service on it;
//  - SecretServiceStore, SecretServiceLocked, SecretServiceNoDefaultCollection: each a fresh
//    gnome-keyring through scripts/with-keyring.sh, which exports WITH_KEYRING_ACTIVE=1. Without
//    it they skip, saying why: they must never run against the user's own keyring.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libsecret/secret.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "devicelogin/advanced/token_store.hpp"
#include "skip_or_fail.hpp"
#include "store/secret_service_store.hpp"

extern char** environ;

namespace devicelogin {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// The schema as the store declares it: a second declaration, so a rename in the store (which
// would orphan every stored token set) fails these tests.
const SecretSchema* test_schema() {
  static const SecretSchema schema = {
      .name = "org.devicelogin.TokenSet",
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

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dl-secret-test.XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Upper bounds on failures: what they catch is an operation that waited out a 5 s timeout it
// should not have reached (or waited for the 5 s default instead of a shorter configured one).
// Waiting out 5 s can never take less than 5 s, while load only makes the quick answer slower,
// so 4.9 s separates the two and leaves a quick answer 4.9 s of margin on a loaded machine.
constexpr double kWithoutWaitingOut5s = 4.9;

TokenSet full_token_set(const std::string& tag) {
  TokenSet tokens;
  tokens.access_token = Secret("access-" + tag + "-\xc3\xa9\"\\{}");
  tokens.token_type = "DPoP";
  tokens.expires_at = 1'900'000'000;
  tokens.refresh_token = Secret("refresh-" + tag);
  tokens.id_token = Secret("eyJhbGciOiJSUzI1NiJ9.id-" + tag + ".sig");
  tokens.scope = "openid profile offline_access";
  tokens.subject = "user-" + tag;
  tokens.obtained_at = 1'800'000'000;
  return tokens;
}

void expect_same(const TokenSet& actual, const TokenSet& expected) {
  EXPECT_EQ(actual.access_token.reveal(), expected.access_token.reveal());
  EXPECT_EQ(actual.token_type, expected.token_type);
  EXPECT_EQ(actual.expires_at, expected.expires_at);
  EXPECT_EQ(actual.refresh_token.reveal(), expected.refresh_token.reveal());
  EXPECT_TRUE(actual.id_token.empty()) << "the ID token is not kept";
  EXPECT_EQ(actual.scope, expected.scope);
  EXPECT_EQ(actual.subject, expected.subject);
  EXPECT_EQ(actual.obtained_at, expected.obtained_at);
}

void expect_storage_error(const Error& error, const std::string& fragment) {
  EXPECT_EQ(error.code, ErrorCode::kStorage) << error.message;
  EXPECT_NE(error.message.find(fragment), std::string::npos) << error.message;
}

// The remedy is another store: these, best first (rendered by the CLI as "use --store ...").
void expect_other_stores(const Error& error, const std::string& stores) {
  EXPECT_EQ(error.remedy, Remedy::kChooseStore) << error.message;
  EXPECT_EQ(error.setting, stores) << error.message;
  EXPECT_EQ(error.message.find("--store"), std::string::npos) << "a library message names no flag: " << error.message;
}

// ---- Without a keyring ----

// A unix socket that accepts connections and never says a word: a D-Bus peer that hangs.
class SilentListener {
 public:
  explicit SilentListener(const std::string& path) : path_(path) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof(address.sun_path) - 1);
    ok_ = listen_fd_ >= 0 && ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
          ::listen(listen_fd_, 16) == 0 && ::pipe2(stop_pipe_, O_CLOEXEC) == 0;
    if (ok_) thread_ = std::thread([this] { serve(); });
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  ~SilentListener() {
    if (thread_.joinable()) {
      (void)!::write(stop_pipe_[1], "x", 1);
      thread_.join();
    }
    for (int fd : accepted_) ::close(fd);
    for (int fd : stop_pipe_) {
      if (fd >= 0) ::close(fd);
    }
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  bool ok() const { return ok_; }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & POLLIN) != 0) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          accepted_.push_back(fd);  // kept open, never answered
          ++connections_;
        }
      }
    }
  }

  std::string path_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  bool ok_ = false;
  std::vector<int> accepted_;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

class SecretServiceUnavailable : public ::testing::Test {
 protected:
  // The store keeps libsecret's per-process service proxy; start each test without one.
  void TearDown() override { secret_service_disconnect(); }
};

TEST_F(SecretServiceUnavailable, UnsetBusAddressFailsFastWithTheWayOut) {
  TempDir runtime;  // no "bus" socket in it, so GLib has nothing but autolaunch left
  ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", std::nullopt);
  ScopedEnv runtime_dir("XDG_RUNTIME_DIR", runtime.path());
  ScopedEnv display("DISPLAY", ":0");  // would let GLib try dbus-launch if we let it
  auto store = store::make_secret_service_token_store(5s);
  const auto start = SteadyClock::now();
  auto loaded = store->load("default");
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "no Secret Service on the session bus (DBUS_SESSION_BUS_ADDRESS is not set)");
  expect_other_stores(loaded.error(), "kernel-keyring,file");
  auto saved = store->save("default", full_token_set("x"));
  ASSERT_FALSE(saved);
  expect_storage_error(saved.error(), "DBUS_SESSION_BUS_ADDRESS is not set");
  auto removed = store->remove("default");
  ASSERT_FALSE(removed);
  expect_storage_error(removed.error(), "DBUS_SESSION_BUS_ADDRESS is not set");
  auto probe = store::probe_secret_service(5s);
  ASSERT_FALSE(probe);
  expect_storage_error(probe.error(), "DBUS_SESSION_BUS_ADDRESS is not set");
  EXPECT_LT(seconds_since(start), kWithoutWaitingOut5s);
}

TEST_F(SecretServiceUnavailable, AutolaunchAddressIsRefused) {
  ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", "autolaunch:");
  const auto start = SteadyClock::now();
  auto probe = store::probe_secret_service(5s);
  ASSERT_FALSE(probe);
  expect_storage_error(probe.error(), "no Secret Service on the session bus (DBUS_SESSION_BUS_ADDRESS asks for an autolaunched bus)");
  EXPECT_LT(seconds_since(start), kWithoutWaitingOut5s);
}

TEST_F(SecretServiceUnavailable, NoListenerAtTheAddressIsNoSessionBus) {
  TempDir dir;
  ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", "unix:path=" + dir.path() + "/nobody-here");
  const auto start = SteadyClock::now();
  auto loaded = store::make_secret_service_token_store(5s)->load("default");
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "no Secret Service on the session bus (cannot connect to the session bus: ");
  expect_other_stores(loaded.error(), "kernel-keyring,file");
  EXPECT_LT(seconds_since(start), kWithoutWaitingOut5s);
}

TEST_F(SecretServiceUnavailable, SilentBusTimesOutForEveryOperation) {
  TempDir dir;
  SilentListener listener(dir.path() + "/bus");
  ASSERT_TRUE(listener.ok()) << "cannot listen on a unix socket in " << dir.path();
  ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", "unix:path=" + dir.path() + "/bus");
  auto store = store::make_secret_service_token_store(700ms);

  auto check = [](const char* what, auto&& call) {
    const auto start = SteadyClock::now();
    auto result = call();
    const double elapsed = seconds_since(start);
    ASSERT_FALSE(result) << what;
    expect_storage_error(result.error(), "the Secret Service did not answer within 700 ms");
    EXPECT_GE(elapsed, 0.6) << what;  // 700 ms asked; 0.1 s for timer granularity
    EXPECT_LT(elapsed, kWithoutWaitingOut5s) << what << ": the 700 ms timeout was not used";
  };
  check("load", [&] { return store->load("default"); });
  check("save", [&] { return store->save("default", full_token_set("x")); });
  check("remove", [&] { return store->remove("default"); });
  check("probe", [] { return store::probe_secret_service(700ms); });
  EXPECT_GE(listener.connections(), 4);
}

TEST_F(SecretServiceUnavailable, DefaultTimeoutIsFiveSeconds) {
  TempDir dir;
  SilentListener listener(dir.path() + "/bus");
  ASSERT_TRUE(listener.ok());
  ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", "unix:path=" + dir.path() + "/bus");
  const auto start = SteadyClock::now();
  auto loaded = store::make_secret_service_token_store()->load("default");
  const double elapsed = seconds_since(start);
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "the Secret Service did not answer within 5 s");
  EXPECT_GE(elapsed, 4.9);
  EXPECT_LT(elapsed, 20.0);  // not D-Bus's own 25 s default, nor endless; 15 s of margin
}

TEST_F(SecretServiceUnavailable, InvalidProfileNameIsAUsageErrorBeforeAnyBusTraffic) {
  ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", std::nullopt);
  auto store = store::make_secret_service_token_store();
  for (const std::string name : {"", "../x", ".hidden", "a b"}) {
    auto loaded = store->load(name);
    ASSERT_FALSE(loaded) << name;
    EXPECT_EQ(loaded.error().code, ErrorCode::kUsage) << name;
  }
  auto saved = store->save("a/b", full_token_set("x"));
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, ErrorCode::kUsage);
}

TEST_F(SecretServiceUnavailable, NameAndLocation) {
  auto store = store::make_secret_service_token_store();
  EXPECT_EQ(store->name(), "secret-service");
  EXPECT_EQ(store->location("work"), "Secret Service default keyring, item \"devicelogin tokens (profile work)\"");
}

// ---- A session bus without a Secret Service ----

// A private dbus-daemon with no service directories, so nothing can be activated on it.
class PrivateBus {
 public:
  explicit PrivateBus(const std::string& dir) {
    const std::string socket = dir + "/bus";
    const std::string config = dir + "/bus.conf";
    std::ofstream(config) << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                             " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                             "<busconfig><type>session</type><listen>unix:path="
                          << socket
                          << "</listen><auth>EXTERNAL</auth><policy context=\"default\">"
                             "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>"
                             "<allow own=\"*\"/></policy></busconfig>\n";
    std::string config_arg = "--config-file=" + config;
    // The daemon prints its address on this pipe once it is listening: waiting for that line (not
    // for the socket file, which exists from bind() on, before listen()) means a connection made
    // next is accepted, however loaded the machine is. EOF instead means the daemon did not start.
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    std::string print_arg = "--print-address=3";
    char program[] = "dbus-daemon";
    char nofork[] = "--nofork";
    char nosyslog[] = "--nosyslog";
    char* argv[] = {program, config_arg.data(), print_arg.data(), nofork, nosyslog, nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, ready[1], 3);
    if (::posix_spawnp(&pid_, program, &actions, nullptr, argv, environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(ready[1]);
    std::string printed;
    char buffer[512];
    while (pid_ > 0 && printed.find('\n') == std::string::npos) {
      const ssize_t got = ::read(ready[0], buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      printed.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(ready[0]);
    if (printed.find('\n') != std::string::npos) address_ = "unix:path=" + socket;
  }
  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;
  ~PrivateBus() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Empty when the daemon did not start.
  const std::string& address() const { return address_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

class SecretServiceNoDaemon : public ::testing::Test {
 protected:
  void TearDown() override { secret_service_disconnect(); }
};

TEST_F(SecretServiceNoDaemon, BusWithoutTheServiceSaysSo) {
  TempDir dir;
  PrivateBus bus(dir.path());
  if (bus.address().empty()) DEVICELOGIN_SKIP_OR_FAIL_IN_CI("dbus-daemon could not be started (Debian package dbus-daemon)");
  ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", bus.address());
  const auto start = SteadyClock::now();
  auto probe = store::probe_secret_service(5s);
  ASSERT_FALSE(probe);
  expect_storage_error(probe.error(), "no Secret Service on the session bus (org.freedesktop.secrets is not provided");
  expect_other_stores(probe.error(), "kernel-keyring,file");
  auto loaded = store::make_secret_service_token_store(5s)->load("default");
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "org.freedesktop.secrets is not provided");
  EXPECT_LT(seconds_since(start), kWithoutWaitingOut5s);
}

// ---- A real keyring (scripts/with-keyring.sh) ----

bool under_test_keyring() {
  const char* active = std::getenv("WITH_KEYRING_ACTIVE");
  return active != nullptr && std::string(active) == "1";
}

constexpr const char* kNotUnderKeyring =
    "needs a throwaway keyring: run under scripts/with-keyring.sh (ctest does), never against the user's own";

// Every item of ours for `profile` in any collection (labels, for counting and checking).
std::vector<std::string> item_labels(const std::string& profile) {
  GError* error = nullptr;
  GHashTable* attributes = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(attributes, const_cast<char*>("profile"), const_cast<char*>(profile.c_str()));
  SecretService* service = secret_service_get_sync(SECRET_SERVICE_NONE, nullptr, &error);
  std::vector<std::string> labels;
  if (service != nullptr) {
    GList* items = secret_service_search_sync(service, test_schema(), attributes, SECRET_SEARCH_ALL, nullptr, &error);
    for (GList* node = items; node != nullptr; node = node->next) {
      gchar* label = secret_item_get_label(static_cast<SecretItem*>(node->data));
      labels.emplace_back(label == nullptr ? "" : label);
      g_free(label);
    }
    g_list_free_full(items, g_object_unref);
    g_object_unref(service);
  }
  g_hash_table_unref(attributes);
  if (error != nullptr) {
    ADD_FAILURE() << "searching the keyring: " << error->message;
    g_error_free(error);
  }
  return labels;
}

class SecretServiceStore : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!under_test_keyring()) DEVICELOGIN_SKIP_OR_FAIL_IN_CI(kNotUnderKeyring);
    store_ = store::make_secret_service_token_store(5s);
  }
  std::unique_ptr<TokenStore> store_;
};

TEST_F(SecretServiceStore, ProbeSucceeds) {
  auto probe = store::probe_secret_service(5s);
  EXPECT_TRUE(probe) << probe.error().message;
}

TEST_F(SecretServiceStore, RoundTripKeepsEveryField) {
  const TokenSet tokens = full_token_set("roundtrip");
  auto saved = store_->save("roundtrip", tokens);
  ASSERT_TRUE(saved) << saved.error().message;
  auto loaded = store_->load("roundtrip");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same(**loaded, tokens);
}

TEST_F(SecretServiceStore, MinimalTokenSetRoundTrips) {
  TokenSet tokens;
  tokens.access_token = Secret("only-access");
  ASSERT_TRUE(store_->save("minimal", tokens));
  auto loaded = store_->load("minimal");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same(**loaded, tokens);
}

TEST_F(SecretServiceStore, CapacityProbeLeavesNoItemBehind) {
  ASSERT_TRUE(store_->save("probed", full_token_set("probed")));
  auto room = store_->check_capacity("probed");
  ASSERT_TRUE(room) << room.error().message;
  EXPECT_TRUE(item_labels("probed#capacity-probe").empty()) << "the probe item was deleted";
  EXPECT_EQ(item_labels("probed").size(), 1u) << "the stored set is untouched";
  auto usage = store_->usage("probed");
  ASSERT_TRUE(usage) << usage.error().message;
  ASSERT_TRUE(usage->set_bytes.has_value());
  EXPECT_GT(*usage->set_bytes, 100u);
  EXPECT_FALSE(usage->quota_max_bytes.has_value());
}

TEST_F(SecretServiceStore, ASetOverTheBoundIsRefused) {
  TokenSet tokens = full_token_set("huge");
  tokens.access_token = Secret(std::string(kMaxTokenSetBytes, 'a'));
  auto saved = store_->save("huge", tokens);
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, ErrorCode::kStorage);
  EXPECT_NE(saved.error().message.find("more than the 16384"), std::string::npos) << saved.error().message;
  EXPECT_TRUE(item_labels("huge").empty());
}

TEST_F(SecretServiceStore, ItemHasTheDocumentedSchemaLabelAndAttributes) {
  ASSERT_TRUE(store_->save("labelled", full_token_set("labelled")));
  EXPECT_EQ(item_labels("labelled"), std::vector<std::string>{"devicelogin tokens (profile labelled)"});

  // Readable by name with the plain password API, as `secret-tool lookup` would.
  GError* error = nullptr;
  gchar* text = secret_password_lookup_sync(test_schema(), nullptr, &error, "application", "devicelogin", "profile",
                                            "labelled", nullptr);
  ASSERT_NE(text, nullptr) << (error != nullptr ? error->message : "no item");
  EXPECT_NE(std::string(text).find("\"access_token\""), std::string::npos);
  secret_password_free(text);
}

TEST_F(SecretServiceStore, SaveReplacesTheOneItem) {
  ASSERT_TRUE(store_->save("replace", full_token_set("old")));
  const TokenSet newer = full_token_set("new");
  ASSERT_TRUE(store_->save("replace", newer));
  auto loaded = store_->load("replace");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same(**loaded, newer);
  EXPECT_EQ(item_labels("replace").size(), 1u);
}

TEST_F(SecretServiceStore, ProfilesAreIndependent) {
  const TokenSet work = full_token_set("work");
  const TokenSet home = full_token_set("home");
  ASSERT_TRUE(store_->save("work", work));
  ASSERT_TRUE(store_->save("home", home));
  auto loaded_work = store_->load("work");
  auto loaded_home = store_->load("home");
  ASSERT_TRUE(loaded_work && loaded_work->has_value());
  ASSERT_TRUE(loaded_home && loaded_home->has_value());
  expect_same(**loaded_work, work);
  expect_same(**loaded_home, home);

  auto removed = store_->remove("work");
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_TRUE(*removed);
  auto after_work = store_->load("work");
  ASSERT_TRUE(after_work);
  EXPECT_FALSE(after_work->has_value());
  auto after_home = store_->load("home");
  ASSERT_TRUE(after_home && after_home->has_value());
  expect_same(**after_home, home);
}

TEST_F(SecretServiceStore, MissingProfileLoadsNothing) {
  auto loaded = store_->load("never-saved");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(SecretServiceStore, RemoveReportsWhetherThereWasAnItem) {
  auto missing = store_->remove("never-saved");
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_FALSE(*missing);

  ASSERT_TRUE(store_->save("removed", full_token_set("removed")));
  auto first = store_->remove("removed");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  auto second = store_->remove("removed");
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);
  EXPECT_TRUE(item_labels("removed").empty());
}

TEST_F(SecretServiceStore, PlantedItemThatIsNotJsonIsAClearStorageError) {
  GError* error = nullptr;
  const char* planted = "not json at all";
  ASSERT_TRUE(secret_password_store_sync(test_schema(), SECRET_COLLECTION_DEFAULT, "planted", planted, nullptr,
                                         &error, "application", "devicelogin", "profile", "planted", nullptr))
      << (error != nullptr ? error->message : "");
  auto loaded = store_->load("planted");
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "the stored token set is not valid JSON");
  expect_storage_error(loaded.error(), "devicelogin tokens (profile planted)");
  EXPECT_EQ(loaded.error().message.find(planted), std::string::npos);

  // A later save repairs it.
  ASSERT_TRUE(store_->save("planted", full_token_set("repaired")));
  auto repaired = store_->load("planted");
  ASSERT_TRUE(repaired && repaired->has_value());
  expect_same(**repaired, full_token_set("repaired"));
}

TEST_F(SecretServiceStore, PlantedItemOfAnotherVersionIsAClearStorageError) {
  GError* error = nullptr;
  ASSERT_TRUE(secret_password_store_sync(test_schema(), SECRET_COLLECTION_DEFAULT, "planted", R"({"version":99})",
                                         nullptr, &error, "application", "devicelogin", "profile", "future", nullptr));
  auto loaded = store_->load("future");
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "unknown format version");
}

TEST_F(SecretServiceStore, ItemsOfOtherApplicationsAreIgnored) {
  GError* error = nullptr;
  ASSERT_TRUE(secret_password_store_sync(test_schema(), SECRET_COLLECTION_DEFAULT, "other", "x", nullptr, &error,
                                         "application", "someone-else", "profile", "shared-name", nullptr));
  auto loaded = store_->load("shared-name");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_FALSE(loaded->has_value());
  auto removed = store_->remove("shared-name");
  ASSERT_TRUE(removed);
  EXPECT_FALSE(*removed);
}

// The test keyring with its default collection locked: gnome-keyring locks without a prompt, and
// unlocking needs one, which no one can answer here (no display).
class SecretServiceLocked : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!under_test_keyring()) DEVICELOGIN_SKIP_OR_FAIL_IN_CI(kNotUnderKeyring);
    static const std::string prepared = lock_default_collection();
    ASSERT_EQ(prepared, "") << "preparing the locked keyring: " << prepared;
  }

 private:
  // Stores an item while unlocked (so a locked load has one to refuse), then locks the default
  // collection; once per process, as nothing here can unlock it again. "" on success.
  static std::string lock_default_collection() {
    if (auto saved = store::make_secret_service_token_store()->save("locked", full_token_set("locked")); !saved) {
      return saved.error().message;
    }
    GError* error = nullptr;
    SecretService* service = secret_service_get_sync(SECRET_SERVICE_NONE, nullptr, &error);
    if (service == nullptr) return error->message;
    SecretCollection* collection =
        secret_collection_for_alias_sync(service, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE, nullptr, &error);
    if (collection == nullptr) return error != nullptr ? error->message : "no default collection";
    GList* objects = g_list_append(nullptr, collection);
    const gint locked = secret_service_lock_sync(service, objects, nullptr, nullptr, &error);
    g_list_free(objects);
    g_object_unref(collection);
    g_object_unref(service);
    if (locked != 1) return error != nullptr ? error->message : "the collection did not lock";
    return "";
  }
};

TEST_F(SecretServiceLocked, ProbeSaysLockedWithoutPrompting) {
  const auto start = SteadyClock::now();
  auto probe = store::probe_secret_service(5s);
  ASSERT_FALSE(probe);
  expect_storage_error(probe.error(), "the keyring is locked; unlock it (e.g. log in to the desktop)");
  expect_other_stores(probe.error(), "kernel-keyring");
  EXPECT_LT(seconds_since(start), kWithoutWaitingOut5s);
}

TEST_F(SecretServiceLocked, EveryOperationSaysLocked) {
  auto store = store::make_secret_service_token_store(5s);
  const auto start = SteadyClock::now();
  auto loaded = store->load("locked");
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "the keyring is locked");
  auto saved = store->save("locked", full_token_set("other"));
  ASSERT_FALSE(saved);
  expect_storage_error(saved.error(), "the keyring is locked");
  auto removed = store->remove("locked");
  ASSERT_FALSE(removed);
  expect_storage_error(removed.error(), "the keyring is locked");
  EXPECT_LT(seconds_since(start), kWithoutWaitingOut5s);
}

TEST_F(SecretServiceLocked, AnUnansweredPromptEndsAsLockedWithinItsTimeout) {
  auto store = store::make_secret_service_token_store(5s, 1500ms);
  const auto start = SteadyClock::now();
  auto loaded = store->load("locked");
  const double elapsed = seconds_since(start);
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "the keyring is locked");
  EXPECT_LT(elapsed, kWithoutWaitingOut5s);  // the 1.5 s prompt timeout ended it, not the 5 s one
}

// The test keyring with no "default" alias (as a Secret Service where no keyring was ever
// created): the store must say so instead of creating one through a prompt.
class SecretServiceNoDefaultCollection : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!under_test_keyring()) DEVICELOGIN_SKIP_OR_FAIL_IN_CI(kNotUnderKeyring);
    GError* error = nullptr;
    SecretService* service = secret_service_get_sync(SECRET_SERVICE_NONE, nullptr, &error);
    ASSERT_NE(service, nullptr);
    const gboolean unset = secret_service_set_alias_sync(service, "default", nullptr, nullptr, &error);
    g_object_unref(service);
    ASSERT_TRUE(unset) << (error != nullptr ? error->message : "");
  }
};

TEST_F(SecretServiceNoDefaultCollection, EveryOperationSaysSo) {
  auto probe = store::probe_secret_service(5s);
  ASSERT_FALSE(probe);
  expect_storage_error(probe.error(), "the Secret Service has no default keyring");
  auto store = store::make_secret_service_token_store(5s);
  auto saved = store->save("default", full_token_set("x"));
  ASSERT_FALSE(saved);
  expect_storage_error(saved.error(), "the Secret Service has no default keyring");
  auto loaded = store->load("default");
  ASSERT_FALSE(loaded);
  expect_storage_error(loaded.error(), "the Secret Service has no default keyring");
  expect_other_stores(loaded.error(), "kernel-keyring");
}

}  // namespace
}  // namespace devicelogin
