// The facade as an adopter uses it (Session::open, login with settings, get, status, logout,
// forget) against a real dev server on 127.0.0.1, with HOME and the XDG directories in a temp
// directory: the workflow the library owns, including its rollback and store clean-up.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/session.hpp"
#include "test_server.hpp"

namespace devicelogin {
namespace {

class FacadeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = std::filesystem::temp_directory_path() / ("devicelogin-facade-" + std::to_string(::getpid()));
    std::filesystem::remove_all(home_);
    std::filesystem::create_directories(home_);
    std::filesystem::permissions(home_, std::filesystem::perms::owner_all);
    ::setenv("HOME", home_.c_str(), 1);
    ::setenv("XDG_CONFIG_HOME", (home_ / "config").c_str(), 1);
    ::setenv("XDG_STATE_HOME", (home_ / "state").c_str(), 1);
    devserver::ServerOptions options;
    options.interval = 1;
    options.auto_approve_delay = 0.0;
    server_ = devserver::testing::start(std::move(options));
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  [[nodiscard]] LoginSettings settings(const std::string& store = "file") const {
    LoginSettings s;
    s.issuer = server_->issuer();
    s.client_id = std::string(devserver::kDemoClientId);
    s.scope = "openid profile offline_access";
    s.store = store;
    return s;
  }
  [[nodiscard]] std::filesystem::path profile_file(const std::string& name) const {
    return home_ / "config" / "devicelogin" / "profiles" / (name + ".json");
  }
  // Whether the file store holds a set for `name`.
  static bool file_store_holds(const std::string& name) {
    auto store = open_token_store("file");
    if (!store) return false;
    auto loaded = (*store)->load(name);
    return loaded && loaded->has_value();
  }

  std::filesystem::path home_;
  std::unique_ptr<devserver::Server> server_;
};

TEST_F(FacadeTest, AnUnsavedSessionAsksToSignInWithoutNamingACommand) {
  auto session = Session::open("todo");
  ASSERT_TRUE(session) << session.error().message;
  auto token = session->access_token(60);
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kNotLoggedIn);
  EXPECT_EQ(token.error().remedy, Remedy::kSignIn);
  EXPECT_EQ(token.error().profile, "todo");
  EXPECT_EQ(token.error().message.find("devicelogin"), std::string::npos) << token.error().message;
  auto status = session->status();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kNotLoggedIn);
  // Signing in again needs a saved profile, or a server to sign in to.
  auto again = session->login(LoginSettings{}, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kUsage);
  EXPECT_EQ(again.error().remedy, Remedy::kAddSettings);
  EXPECT_EQ(again.error().setting, "issuer|provider,client_id");
  EXPECT_EQ(again.error().message.find("--"), std::string::npos) << again.error().message;
}

TEST_F(FacadeTest, AnInvalidNameIsRefusedWhenOpening) {
  auto session = Session::open("../etc");
  ASSERT_FALSE(session);
  EXPECT_EQ(session.error().code, ErrorCode::kUsage);
  EXPECT_EQ(session.error().remedy, Remedy::kFixSettings);
  EXPECT_EQ(session.error().setting, "profile");
}

TEST_F(FacadeTest, SignInSavesTheProfileWithItsJwksAndEveryCallWorksFromASecondProcessView) {
  {
    auto session = Session::open("todo");
    ASSERT_TRUE(session);
    int codes_shown = 0;
    bool started = false;
    LoginObserver observer;
    observer.on_start = [&](const Profile& profile, const TokenStore& store) {
      started = true;
      EXPECT_EQ(profile.store, "file");
      EXPECT_EQ(store.name(), "file");
    };
    observer.on_code = [&](const DeviceCodePrompt& prompt) {
      ++codes_shown;
      EXPECT_FALSE(prompt.user_code.empty());
    };
    auto info = session->login(settings(), observer);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_TRUE(started);
    EXPECT_EQ(codes_shown, 1);
    EXPECT_EQ(info->subject, "alice");
  }
  // What the login learned is on disk: the profile with the JWKS that verified the ID token.
  ASSERT_TRUE(std::filesystem::exists(profile_file("todo")));
  std::ifstream in(profile_file("todo"));
  auto saved = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(saved.is_object());
  ASSERT_TRUE(saved.contains("jwks_cache"));
  EXPECT_TRUE(saved["jwks_cache"].is_object() && saved["jwks_cache"].contains("keys"));

  // A later run: open, token, API call (GET by default), status, logout, forget.
  auto session = Session::open("todo");
  ASSERT_TRUE(session);
  auto token = session->access_token(60);
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_FALSE(token->empty());
  auto response = session->get(session->profile().endpoints.userinfo);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(std::string(response->body.reveal()).find("\"sub\":\"alice\""), std::string::npos);
  auto status = session->status();
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_TRUE(status->logged_in());
  EXPECT_FALSE(status->relogin_required);
  EXPECT_EQ(status->store, "file");
  EXPECT_EQ(status->issuer, server_->issuer());
  ASSERT_TRUE(status->tokens);
  EXPECT_EQ(status->tokens->subject, "alice");
  auto out = session->logout();
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_TRUE(out->revoked);
  EXPECT_TRUE(out->deleted);
  auto after = session->status();
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->logged_in());
  auto forgotten = session->forget();
  ASSERT_TRUE(forgotten);
  EXPECT_TRUE(*forgotten);
  EXPECT_FALSE(std::filesystem::exists(profile_file("todo")));
}

TEST_F(FacadeTest, SigningInAgainWithTheSavedProfileNeedsNoSettings) {
  auto first = Session::open("todo");
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->login(settings(), {}));
  auto session = Session::open("todo");
  ASSERT_TRUE(session);
  bool replaced = false;
  LoginObserver observer;
  observer.on_replaced = [&](const LogoutOutcome& outcome) {
    replaced = true;
    EXPECT_TRUE(outcome.revoked) << outcome.revocation_problem;
  };
  auto info = session->login(observer);  // the saved profile, saved again afterwards
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(replaced);
  EXPECT_EQ(session->profile().issuer, server_->issuer());
}

TEST_F(FacadeTest, AProfileDirectoryThatCannotBeUsedIsFoundBeforeTheUserApproves) {
  // The profile directory's parent is a file: nothing may be asked of the server.
  std::ofstream(home_ / "not-a-directory") << "x";
  SessionOptions options;
  options.profile_directory = (home_ / "not-a-directory" / "profiles").string();
  auto session = Session::open("todo", options);
  ASSERT_TRUE(session) << session.error().message;
  int codes_shown = 0;
  LoginObserver observer;
  observer.on_code = [&](const DeviceCodePrompt&) { ++codes_shown; };
  auto info = session->login(settings(), observer);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kStorage);
  EXPECT_EQ(codes_shown, 0) << "a code was shown although the profile could never be saved";
  EXPECT_FALSE(file_store_holds("todo"));
}

TEST_F(FacadeTest, AProfileThatCannotBeSavedLeavesNoTokensBehind) {
  // The profile's own file is a directory: the directory is fine, saving the profile fails.
  std::filesystem::create_directories(home_ / "config" / "devicelogin" / "profiles" / "todo.json");
  auto session = Session::open("todo");
  ASSERT_TRUE(session) << session.error().message;
  auto before = session->access_token(60);
  ASSERT_FALSE(before);
  auto info = session->login(settings(), {});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kStorage);
  EXPECT_NE(info.error().message.find("the new tokens were revoked and deleted"), std::string::npos)
      << info.error().message;
  EXPECT_FALSE(file_store_holds("todo")) << "the new tokens were left in the store";
  // The session is as it was: still without a profile, for the same reason.
  auto token = session->access_token(60);
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, before.error().code);
  EXPECT_EQ(token.error().message, before.error().message);
}

TEST_F(FacadeTest, SigningInToAnotherServerRevokesTheReplacedSetAtTheServerThatIssuedIt) {
  devserver::ServerOptions options;
  options.interval = 1;
  options.auto_approve_delay = 0.0;
  auto other = devserver::testing::start(std::move(options));
  ASSERT_NE(other, nullptr);
  auto session = Session::open("todo");
  ASSERT_TRUE(session);
  ASSERT_TRUE(session->login(settings(), {}));
  LoginSettings moved = settings();
  moved.issuer = other->issuer();
  bool replaced = false;
  LoginObserver observer;
  observer.on_replaced = [&](const LogoutOutcome& outcome) {
    replaced = true;
    EXPECT_TRUE(outcome.revoked) << "the first server's grant stays live: " << outcome.revocation_problem;
  };
  auto info = session->login(moved, observer);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(replaced);
  EXPECT_EQ(session->profile().issuer, other->issuer());
  // The same session signs in again with what it saved just now.
  auto again = session->login(LoginObserver{});
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_TRUE(session->logout());
}

TEST_F(FacadeTest, MovingToAnotherStoreRevokesAndDeletesTheTokensLeftInThePreviousOne) {
  if (auto usable = probe_kernel_keyring(); !usable) {
    GTEST_FAIL() << "the kernel keyring is needed here and refused: " << usable.error().message;
  }
  auto session = Session::open("todo");
  ASSERT_TRUE(session);
  ASSERT_TRUE(session->login(settings("file"), {}));
  ASSERT_TRUE(file_store_holds("todo"));
  LoginSettings move;
  move.store = "kernel-keyring";
  std::string previous;
  bool revoked = false;
  LoginObserver observer;
  observer.on_previous_store = [&](const std::string& store, const Result<LogoutOutcome>& dropped) {
    previous = store;
    revoked = dropped && dropped->revoked && dropped->deleted;
  };
  auto info = session->login(move, observer);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(previous, "file");
  EXPECT_TRUE(revoked);
  EXPECT_FALSE(file_store_holds("todo")) << "a copy was left in the previous store";
  EXPECT_EQ(session->profile().store, "kernel-keyring");
  auto status = session->status();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->logged_in());
  ASSERT_TRUE(session->logout());
}

}  // namespace
}  // namespace devicelogin
