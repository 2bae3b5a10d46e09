#include "core/fs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace devicelogin {
namespace {

class PrivateFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "devicelogin-fs-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static mode_t mode_of(const std::string& file) {
    struct stat st {};
    EXPECT_EQ(::lstat(file.c_str(), &st), 0) << file;
    return st.st_mode & 07777;
  }

  std::string dir_;
};

TEST_F(PrivateFiles, WriteCreatesA0600FileAndReadReturnsIt) {
  ::umask(0022);
  auto written = write_file_atomically(path("tokens.json"), "{\"a\":1}");
  ASSERT_TRUE(written.has_value()) << written.error().message;
  EXPECT_EQ(mode_of(path("tokens.json")), 0600u);
  auto read = read_private_file(path("tokens.json"), "token file");
  ASSERT_TRUE(read.has_value()) << read.error().message;
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ(**read, "{\"a\":1}");
}

TEST_F(PrivateFiles, WriteReplacesAtomicallyAndLeavesNoTemporaryFile) {
  ASSERT_TRUE(write_file_atomically(path("f"), "one").has_value());
  ASSERT_TRUE(write_file_atomically(path("f"), "two").has_value());
  auto read = read_private_file(path("f"), "file");
  ASSERT_TRUE(read.has_value() && read->has_value());
  EXPECT_EQ(**read, "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(PrivateFiles, WriteIntoAMissingDirectoryFails) {
  auto written = write_file_atomically(path("missing/f"), "x");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::kStorage);
}

TEST_F(PrivateFiles, ReadRefusesAFileOthersCanRead) {
  ASSERT_TRUE(write_file_atomically(path("loose"), "secret").has_value());
  ASSERT_EQ(::chmod(path("loose").c_str(), 0644), 0);
  auto read = read_private_file(path("loose"), "token file");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kStorage);
  EXPECT_NE(read.error().message.find("chmod 600"), std::string::npos) << read.error().message;
  EXPECT_EQ(read.error().message.find("secret"), std::string::npos);  // never the content
}

TEST_F(PrivateFiles, ReadRefusesSymlinks) {
  ASSERT_TRUE(write_file_atomically(path("real"), "x").has_value());
  ASSERT_EQ(::symlink(path("real").c_str(), path("link").c_str()), 0);
  auto read = read_private_file(path("link"), "token file");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kStorage);
  EXPECT_NE(read.error().message.find("symbolic link"), std::string::npos) << read.error().message;
}

TEST_F(PrivateFiles, ReadRefusesDirectories) {
  ASSERT_EQ(::mkdir(path("d").c_str(), 0700), 0);
  auto read = read_private_file(path("d"), "token file");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kStorage);
}

TEST_F(PrivateFiles, ReadOfAMissingFileIsNullopt) {
  auto read = read_private_file(path("absent"), "token file");
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_FALSE(read->has_value());
}

TEST_F(PrivateFiles, EnsurePrivateDirectoryMakes0700WithParents) {
  ::umask(0022);
  const std::string nested = path("a/b/devicelogin");
  auto made = ensure_private_directory(nested);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  EXPECT_EQ(mode_of(nested), 0700u);
  EXPECT_TRUE(ensure_private_directory(nested).has_value());  // idempotent
}

TEST_F(PrivateFiles, EnsurePrivateDirectoryNeverLeavesItOpenToOthers) {
  const std::string loose = path("loose");
  ASSERT_EQ(::mkdir(loose.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(loose.c_str(), 0777), 0);
  auto made = ensure_private_directory(loose);
  // Either refused or tightened; never accepted as it is.
  if (made.has_value()) {
    EXPECT_EQ(mode_of(loose), 0700u);
  } else {
    EXPECT_EQ(made.error().code, ErrorCode::kStorage);
  }
}

TEST_F(PrivateFiles, EnsurePrivateDirectoryRefusesAFileOrSymlink) {
  ASSERT_TRUE(write_file_atomically(path("file"), "x").has_value());
  EXPECT_FALSE(ensure_private_directory(path("file")).has_value());
  ASSERT_EQ(::mkdir(path("target").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(path("target").c_str(), path("dirlink").c_str()), 0);
  EXPECT_FALSE(ensure_private_directory(path("dirlink")).has_value());
}

TEST_F(PrivateFiles, RemoveFileReportsWhetherItExisted) {
  ASSERT_TRUE(write_file_atomically(path("f"), "x").has_value());
  auto removed = remove_file(path("f"));
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(*removed);
  auto again = remove_file(path("f"));
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again);
}

}  // namespace
}  // namespace devicelogin
