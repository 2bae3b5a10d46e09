// The approval page builder on its own: what the consent page tells the user, and that every
// server- or attacker-chosen string is escaped.
#include <gtest/gtest.h>

#include <regex>

#include "pages.hpp"

namespace devicelogin::devserver {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

// 2026-12-07 16:40:12 UTC.
const TimePoint kRequested = TimePoint{} + seconds(1'796'661'612);

ConsentView view() {
  ConsentView v;
  v.csrf = "csrf-token";
  v.user_code = "BCDF-GHJK";
  v.client_name = "My CLI";
  v.client_id = "my-cli";
  v.scopes = {"openid", "offline_access", "read"};
  v.username = "alice";
  v.requested = kRequested;
  v.now = kRequested + minutes(3) + seconds(20);
  v.requested_from = "127.0.0.1";
  v.same_address = true;
  return v;
}

bool contains(const std::string& html, const std::string& text) { return html.find(text) != std::string::npos; }

TEST(ApprovalPageBuilder, RelativeAndAbsoluteTime) {
  struct Case {
    seconds ago;
    const char* text;
  };
  for (const Case& c : {Case{seconds(-5), "just now"}, Case{seconds(0), "less than a minute ago"},
                        Case{seconds(59), "less than a minute ago"}, Case{seconds(60), "1 minute ago"},
                        Case{seconds(119), "1 minute ago"}, Case{seconds(200), "3 minutes ago"},
                        Case{seconds(3599), "59 minutes ago"}, Case{seconds(3600), "1 hour ago"},
                        Case{seconds(86399), "23 hours ago"}}) {
    EXPECT_EQ(relative_time(kRequested, kRequested + c.ago), c.text) << c.ago.count();
  }
  EXPECT_EQ(utc_time(kRequested), "2026-12-07 16:40:12 UTC");
}

TEST(ApprovalPageBuilder, ConsentPreservesContext) {
  const std::string html = consent_page(view());
  EXPECT_TRUE(contains(html, "<strong>My CLI</strong> (client <code>my-cli</code>)"));
  EXPECT_TRUE(contains(html, "3 minutes ago (2026-12-07 16:40:12 UTC)"));
  EXPECT_TRUE(contains(html, "this computer (127.0.0.1)"));
  EXPECT_TRUE(contains(html, "Confirm who you are <code>openid</code>"));
  EXPECT_TRUE(contains(html, "Keep access while you are away, until you sign out <code>offline_access</code>"));
  EXPECT_TRUE(contains(html, "Use the permission <code>read</code>"));
  EXPECT_TRUE(contains(html, "this device will be able to act as you (<strong>alice</strong>) until you sign out"));
  EXPECT_TRUE(contains(html, "Unless you started this sign-in yourself, on a device in front of you, choose Deny."));
  EXPECT_TRUE(contains(html, "Codes are never sent by e-mail or chat"));
  EXPECT_TRUE(contains(html, "name=\"csrf\" value=\"csrf-token\""));

  ConsentView other = view();
  other.requested_from = "192.0.2.7";
  other.same_address = false;
  const std::string elsewhere = consent_page(other);
  EXPECT_TRUE(contains(elsewhere, "another computer, at address <code>192.0.2.7</code>"));
  EXPECT_FALSE(contains(elsewhere, "this computer"));
}

TEST(ApprovalPageBuilder, ApproveAndDenyAreTwinsAndNothingIsFocused) {
  const std::string html = consent_page(view());
  EXPECT_FALSE(contains(html, "autofocus"));
  static const std::regex button(R"re(<button ([^>]*)>(Approve|Deny)</button>)re");
  std::vector<std::string> classes;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), button); it != std::sregex_iterator(); ++it) {
    static const std::regex css_class(R"re(class="([^"]*)")re");
    std::smatch found;
    std::string attributes = (*it)[1].str();
    ASSERT_TRUE(std::regex_search(attributes, found, css_class)) << attributes;
    classes.push_back(found[1].str());
  }
  ASSERT_EQ(classes.size(), 2u);
  EXPECT_EQ(classes[0], classes[1]) << "Approve and Deny share their style";
}

TEST(ApprovalPageBuilder, CodeFromALinkAsksForConfirmation) {
  EXPECT_FALSE(contains(consent_page(view()), "name=\"code_matches\""));
  ConsentView linked = view();
  linked.confirm_code = true;
  const std::string html = consent_page(linked);
  EXPECT_TRUE(contains(html, "<input type=\"checkbox\" name=\"code_matches\" value=\"yes\" required>"));
  EXPECT_TRUE(contains(html, "You opened a link that filled in the code for you."));
  // Deny stays possible without ticking the box.
  EXPECT_TRUE(contains(html, "value=\"deny\" class=\"choice\" formnovalidate>Deny</button>"));
  const std::string prefilled = enter_code_page("csrf", "BCDF-GHJK", "");
  EXPECT_TRUE(contains(prefilled, "you will confirm it again before you approve"));
}

TEST(ApprovalPageBuilder, AttackerChosenStringsAreEscaped) {
  ConsentView evil = view();
  evil.client_name = "<script>alert(1)</script>";
  evil.client_id = "<b>id</b>";
  evil.scopes = {"<script>alert(2)</script>", "'><img/src=x/onerror=alert(3)>"};
  evil.username = "<i>u</i>";
  evil.requested_from = "<addr>";
  evil.same_address = false;
  evil.error = "<error>";
  evil.csrf = "\"><x>";
  const std::string html = consent_page(evil);
  for (const char* raw : {"<script", "<img", "<b>id", "<i>u", "<addr>", "<error>", "\"><x>"}) {
    EXPECT_FALSE(contains(html, raw)) << raw;
  }
  EXPECT_TRUE(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(contains(html, "&#39;&gt;&lt;img/src=x/onerror=alert(3)&gt;"));
}

TEST(ApprovalPageBuilder, ExpiredAndUsedCodePagesSayWhat) {
  EXPECT_TRUE(contains(code_expired_page(), "<h1>Code expired</h1>"));
  EXPECT_TRUE(contains(code_used_page(), "<h1>Code already used</h1>"));
  EXPECT_TRUE(contains(code_used_page(), "a code works only once"));
}

}  // namespace
}  // namespace devicelogin::devserver
