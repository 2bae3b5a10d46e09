#include <gtest/gtest.h>

#include <set>
#include <string>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin {
namespace {

TEST(ExitCodes, MatchTheDocumentedTable) {
  struct Case {
    ErrorCode code;
    int exit_code;
  };
  const Case cases[] = {
      {ErrorCode::kUsage, 2},           {ErrorCode::kConfig, 2},       {ErrorCode::kAccessDenied, 3},
      {ErrorCode::kExpiredToken, 4},    {ErrorCode::kNotLoggedIn, 5},  {ErrorCode::kReloginRequired, 5},
      {ErrorCode::kNetwork, 6},         {ErrorCode::kServer, 6},       {ErrorCode::kStorage, 7},
      {ErrorCode::kProtocol, 1},        {ErrorCode::kInternal, 1},     {ErrorCode::kCancelled, 130},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(error_code_name(c.code));
    EXPECT_EQ(exit_code_for(c.code), c.exit_code);
  }
}

TEST(ExitCodes, NamesAreDistinct) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    names.insert(error_code_name(static_cast<ErrorCode>(i)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(ErrorCode::kInternal) + 1);
}

TEST(Result, FailBuildsAnError) {
  Result<int> result = fail(ErrorCode::kProtocol, "invalid_client", "invalid_client", 401);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kProtocol);
  EXPECT_EQ(result.error().oauth_error, "invalid_client");
  EXPECT_EQ(result.error().http_status, 401);
}

}  // namespace
}  // namespace devicelogin
