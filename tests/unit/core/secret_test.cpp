#include "devicelogin/secret.hpp"

#include "core/secret_memory.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>
#include <string_view>
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

// Whether `needle` occurs in the object representation of `object`: its own sizeof(T) bytes, read
// as unsigned char, which is defined for any live object (no freed or out-of-range memory is read).
template <typename T>
bool object_bytes_contain(const T& object, std::string_view needle) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&object);
  std::string copy(sizeof(T), '\0');
  for (std::size_t i = 0; i < sizeof(T); ++i) copy[i] = static_cast<char>(bytes[i]);
  return copy.find(needle) != std::string::npos;
}

// "Empty" holds after any std::string move; what Secret adds is the wipe. libstdc++ keeps a string
// of up to 15 characters inside the std::string object (small-string buffer); moving it copies the
// bytes and leaves the source's buffer as it was except for a '\0' at [0]. So the moved-from Secret
// still holds all but the first byte of the secret unless the move wipes it: look for that tail.
TEST(Secret, MovingWipesTheSourcesInlineBuffer) {
  constexpr std::string_view kCanary = "sso-canary-42";
  constexpr std::string_view kTail = kCanary.substr(1);
  Secret source{kCanary};
  ASSERT_TRUE(object_bytes_contain(source, kTail)) << "premise: a short secret lives inside the object";

  Secret moved(std::move(source));
  EXPECT_EQ(moved.reveal(), kCanary);
  ASSERT_TRUE(object_bytes_contain(moved, kTail)) << "premise: the move copied the inline bytes";
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is what is under test
  EXPECT_FALSE(object_bytes_contain(source, kTail)) << "move construction left the secret in the source";

  Secret target(std::string_view("old"));
  target = std::move(moved);
  EXPECT_EQ(target.reveal(), kCanary);
  // NOLINTNEXTLINE(bugprone-use-after-move)
  EXPECT_FALSE(object_bytes_contain(moved, kTail)) << "move assignment left the secret in the source";
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

// Every buffer the allocator releases, as seen by the test hook before it is freed: its size and
// whether any byte was left non-zero. (The hook runs while the buffer is still owned.)
struct Released {
  std::size_t bytes = 0;
  bool all_zero = true;
};
std::vector<Released>& released_buffers() {
  static std::vector<Released> buffers;
  return buffers;
}
void record_release(const char* data, std::size_t bytes) {
  bool all_zero = true;
  for (std::size_t i = 0; i < bytes; ++i) all_zero = all_zero && data[i] == '\0';
  released_buffers().push_back(Released{bytes, all_zero});
}

class ReleaseObserver {
 public:
  ReleaseObserver() {
    released_buffers().clear();
    core::set_secret_release_observer_for_test(&record_release);
  }
  ~ReleaseObserver() { core::set_secret_release_observer_for_test(nullptr); }
  ReleaseObserver(const ReleaseObserver&) = delete;
  ReleaseObserver& operator=(const ReleaseObserver&) = delete;
};

// A long secret grown one piece at a time reallocates several times; a std::string would free each
// outgrown buffer with its bytes intact. Every buffer the Secret gives back must arrive zeroed.
TEST(Secret, EveryReleasedBufferIsZeroed) {
  {
    ReleaseObserver observer;
    {
      Secret grown;
      for (int i = 0; i < 64; ++i) grown.append("0123456789abcdef");  // 1 KiB, many reallocations
      Secret copy(grown);
      Secret assigned;
      assigned = copy;
      EXPECT_EQ(grown.size(), 1024u);
    }
    core::set_secret_release_observer_for_test(nullptr);
    // 16 -> 1024 bytes by doubling: at least 6 outgrown buffers, plus the three final ones.
    ASSERT_GE(released_buffers().size(), 9u);
    std::size_t largest = 0;
    for (const Released& buffer : released_buffers()) {
      EXPECT_TRUE(buffer.all_zero) << "a released buffer of " << buffer.bytes << " bytes still held data";
      largest = std::max(largest, buffer.bytes);
    }
    EXPECT_GE(largest, 1024u);
  }
}

// Secret(std::string&&) cannot adopt a std::string's buffer (another allocator): it copies and
// wipes the source, whose buffer would otherwise be freed with the secret in it.
TEST(Secret, ConstructingFromAStringWipesTheString) {
  std::string text = "a token long enough to live on the heap, not in the SSO buffer";
  const char* data = text.data();
  const std::size_t capacity = text.capacity();
  Secret secret(std::move(text));
  EXPECT_EQ(secret.reveal(), "a token long enough to live on the heap, not in the SSO buffer");
  // NOLINTNEXTLINE(bugprone-use-after-move): the wiped source is what is under test
  ASSERT_EQ(text.data(), data) << "premise: the source keeps its buffer";
  for (std::size_t i = 0; i < capacity; ++i) EXPECT_EQ(data[i], '\0') << i;
}

// No implicit conversions from or to std::string.
static_assert(!std::is_convertible_v<std::string, Secret>);
static_assert(!std::is_convertible_v<Secret, std::string>);

}  // namespace
}  // namespace devicelogin
