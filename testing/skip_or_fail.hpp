#pragma once
// Skipping what this machine cannot provide (the kernel keyring refused in a container, no
// Secret Service) is honest locally, but under CI (env CI set, not "false"/"0") the dependencies
// come from scripts/setup-deps.sh --tests, so the same condition hides a broken setup: there it
// is a failure, never a skip.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

namespace devicelogin::testing_support {

// Whether the tests run under CI (the convention of GitHub Actions, GitLab CI and most others).
inline bool under_ci() {
  const char* value = std::getenv("CI");
  if (value == nullptr) return false;
  const std::string_view text(value);
  return !text.empty() && text != "false" && text != "0";
}

}  // namespace devicelogin::testing_support

// GTEST_SKIP() << reason, or under CI a fatal failure naming the reason; returns from the caller.
#define DEVICELOGIN_SKIP_OR_FAIL_IN_CI(reason)                                                  \
  do {                                                                                          \
    if (::devicelogin::testing_support::under_ci()) {                                           \
      GTEST_FAIL() << (reason) << " (a failure, not a skip: under CI this must be available)"; \
    } else {                                                                                    \
      GTEST_SKIP() << (reason);                                                                 \
    }                                                                                           \
  } while (0)
