#include "devicelogin/secret.hpp"

#include <gtest/gtest.h>

#include <type_traits>
#include <utility>

namespace devicelogin {
namespace {

TEST(Secret, EqualsComparesContent) {
  Secret a(std::string_view("token-123"));
  Secret b(std::string("token-123"));
  Secret c(std::string_view("token-124"));
  Secret shorter(std::string_view("token-12"));
  EXPECT_TRUE(a.equals(b));
  EXPECT_FALSE(a.equals(c));
  EXPECT_FALSE(a.equals(shorter));
  EXPECT_TRUE(Secret().equals(Secret()));
}

TEST(Secret, WipeEmptiesTheValue) {
  Secret a(std::string_view("a long enough secret to live on the heap, not in the SSO buffer"));
  a.wipe();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.reveal(), "");
}

TEST(Secret, WipeStringClearsTheWholeBuffer) {
  std::string text = "0123456789abcdef0123456789abcdef";
  const char* data = text.data();
  std::size_t capacity = text.capacity();
  wipe_string(text);
  EXPECT_TRUE(text.empty());
  EXPECT_EQ(text.data(), data);  // same buffer, now zeroed
  for (std::size_t i = 0; i < capacity; ++i) EXPECT_EQ(data[i], '\0') << i;
}

TEST(Secret, MovesLeaveTheSourceEmpty) {
  for (const char* value : {"short", "a value longer than the small string buffer of std::string"}) {
    SCOPED_TRACE(value);
    Secret source{std::string_view(value)};
    Secret moved(std::move(source));
    EXPECT_EQ(moved.reveal(), value);
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): the contract under test

    Secret target(std::string_view("old"));
    target = std::move(moved);
    EXPECT_EQ(target.reveal(), value);
    EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move)
  }
}

TEST(Secret, CopiesAreIndependent) {
  Secret a(std::string_view("value"));
  Secret b(a);
  a.wipe();
  EXPECT_EQ(b.reveal(), "value");
  Secret c;
  c = b;
  EXPECT_TRUE(c.equals(b));
  c = c;  // self-assignment keeps the value
  EXPECT_EQ(c.reveal(), "value");
}

// No implicit conversions from or to std::string.
static_assert(!std::is_convertible_v<std::string, Secret>);
static_assert(!std::is_convertible_v<Secret, std::string>);

}  // namespace
}  // namespace devicelogin
