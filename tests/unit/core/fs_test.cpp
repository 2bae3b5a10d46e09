#include "core/fs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "devicelogin/token_set.hpp"
#include "devicelogin/advanced/token_store.hpp"

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
  auto written = core::write_file_atomically(path("tokens.json"), "{\"a\":1}");
  ASSERT_TRUE(written.has_value()) << written.error().message;
  EXPECT_EQ(mode_of(path("tokens.json")), 0600u);
  auto read = core::read_private_file(path("tokens.json"), "token file");
  ASSERT_TRUE(read.has_value()) << read.error().message;
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ(**read, "{\"a\":1}");
}

TEST_F(PrivateFiles, WriteReplacesAtomicallyAndLeavesNoTemporaryFile) {
  ASSERT_TRUE(core::write_file_atomically(path("f"), "one").has_value());
  ASSERT_TRUE(core::write_file_atomically(path("f"), "two").has_value());
  auto read = core::read_private_file(path("f"), "file");
  ASSERT_TRUE(read.has_value() && read->has_value());
  EXPECT_EQ(**read, "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(PrivateFiles, WriteIntoAMissingDirectoryFails) {
  auto written = core::write_file_atomically(path("missing/f"), "x");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::kStorage);
}

TEST_F(PrivateFiles, ReadRefusesAFileOthersCanRead) {
  ASSERT_TRUE(core::write_file_atomically(path("loose"), "secret").has_value());
  ASSERT_EQ(::chmod(path("loose").c_str(), 0644), 0);
  auto read = core::read_private_file(path("loose"), "token file");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kStorage);
  EXPECT_NE(read.error().message.find("chmod 600"), std::string::npos) << read.error().message;
  EXPECT_EQ(read.error().message.find("secret"), std::string::npos);  // never the content
}

TEST_F(PrivateFiles, ReadRefusesSymlinks) {
  ASSERT_TRUE(core::write_file_atomically(path("real"), "x").has_value());
  ASSERT_EQ(::symlink(path("real").c_str(), path("link").c_str()), 0);
  auto read = core::read_private_file(path("link"), "token file");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kStorage);
  EXPECT_NE(read.error().message.find("symbolic link"), std::string::npos) << read.error().message;
}

TEST_F(PrivateFiles, ReadRefusesDirectories) {
  ASSERT_EQ(::mkdir(path("d").c_str(), 0700), 0);
  auto read = core::read_private_file(path("d"), "token file");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kStorage);
}

TEST_F(PrivateFiles, ReadOfAMissingFileIsNullopt) {
  auto read = core::read_private_file(path("absent"), "token file");
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_FALSE(read->has_value());
}

TEST_F(PrivateFiles, EnsurePrivateDirectoryMakes0700WithParents) {
  ::umask(0022);
  const std::string nested = path("a/b/devicelogin");
  auto made = core::ensure_private_directory(nested);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  EXPECT_EQ(mode_of(nested), 0700u);
  EXPECT_TRUE(core::ensure_private_directory(nested).has_value());  // idempotent
}

TEST_F(PrivateFiles, EnsurePrivateDirectoryNeverLeavesItOpenToOthers) {
  const std::string loose = path("loose");
  ASSERT_EQ(::mkdir(loose.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(loose.c_str(), 0777), 0);
  auto made = core::ensure_private_directory(loose);
  // Either refused or tightened; never accepted as it is.
  if (made.has_value()) {
    EXPECT_EQ(mode_of(loose), 0700u);
  } else {
    EXPECT_EQ(made.error().code, ErrorCode::kStorage);
  }
}

TEST_F(PrivateFiles, EnsurePrivateDirectoryRefusesAFileOrSymlink) {
  ASSERT_TRUE(core::write_file_atomically(path("file"), "x").has_value());
  EXPECT_FALSE(core::ensure_private_directory(path("file")).has_value());
  ASSERT_EQ(::mkdir(path("target").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(path("target").c_str(), path("dirlink").c_str()), 0);
  EXPECT_FALSE(core::ensure_private_directory(path("dirlink")).has_value());
}

// A profile may be called "work.json.tmp.1": cleaning up after "work" must not touch its files.
TEST_F(PrivateFiles, StaleTempCleanupSparesFilesOfOtherProfiles) {
  for (const char* name : {"work.json.tmp.1.json", "work.json.tmp.1.lock", "work.json.tmp.abc.json",
                           "work.json.tmp.123456.json", "work.json.tmp.9.9.json"}) {
    ASSERT_TRUE(core::write_file_atomically(path(name), "keep").has_value()) << name;
  }
  // What a crashed save may leave: this version's names, and those of earlier versions.
  for (const char* name : {".work.json.tmp.Ab12Cd", ".work.json.tmp.77.0", "work.json.tmp.Xy34Zw", "work.json.tmp.77.1"}) {
    std::ofstream(path(name)) << "stale";
  }
  ASSERT_TRUE(core::write_file_atomically(path("work.json"), "mine").has_value());
  core::remove_stale_temp_files(path("work.json"));
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) left.push_back(entry.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"work.json", "work.json.tmp.1.json", "work.json.tmp.1.lock",
                                            "work.json.tmp.123456.json", "work.json.tmp.9.9.json",
                                            "work.json.tmp.abc.json"}));
}

TEST_F(PrivateFiles, SavingAProfileKeepsAProfileNamedLikeItsTempFiles) {
  auto store = make_file_token_store(dir_);
  TokenSet other;
  other.access_token = Secret(std::string_view("other-profile-token"));
  ASSERT_TRUE(store->save("work.json.tmp.1", other).has_value());
  auto held = store->lock("work.json.tmp.1", std::chrono::milliseconds(100));
  ASSERT_TRUE(held.has_value());
  TokenSet mine;
  mine.access_token = Secret(std::string_view("work-token"));
  ASSERT_TRUE(store->save("work", mine).has_value());
  ASSERT_TRUE(store->remove("work").has_value());
  auto loaded = store->load("work.json.tmp.1");
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->access_token.reveal(), "other-profile-token");
  EXPECT_TRUE(std::filesystem::exists(path("work.json.tmp.1.lock")));
}

// As ssh refuses a ~/.ssh that others could write to: the state directory and the directories
// above it are checked on the descriptor that is then used.
TEST_F(PrivateFiles, AStateDirectoryWritableByOthersIsRefusedNotTightened) {
  for (mode_t loose : {0777, 0770, 0702}) {
    SCOPED_TRACE(loose);
    const std::string dir = path("state-" + std::to_string(loose));
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(dir.c_str(), loose), 0);
    auto opened = core::PrivateDirectory::open(dir, true);
    ASSERT_FALSE(opened.has_value());
    EXPECT_EQ(opened.error().code, ErrorCode::kStorage);
    EXPECT_NE(opened.error().message.find("writable by group or others"), std::string::npos) << opened.error().message;
    EXPECT_EQ(opened.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(mode_of(dir), loose);
    auto store = make_file_token_store(dir);
    TokenSet tokens;
    tokens.access_token = Secret(std::string_view("t"));
    EXPECT_FALSE(store->save("p", tokens).has_value());
    EXPECT_FALSE(store->load("p").has_value());
    EXPECT_FALSE(std::filesystem::exists(dir + "/p.json"));
  }
}

TEST_F(PrivateFiles, AStateDirectoryReadableByOthersIsTightened) {
  const std::string dir = path("readable");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  auto opened = core::PrivateDirectory::open(dir, false);
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  ASSERT_TRUE(opened->has_value());
  EXPECT_EQ(mode_of(dir), 0700u);
}

TEST_F(PrivateFiles, AStateDirectoryOfAnotherUserIsRefused) {
  if (::geteuid() != 0) {
    // Without root no directory can be given away; "/" belongs to root, so it serves.
    auto opened = core::PrivateDirectory::open("/", false);
    ASSERT_FALSE(opened.has_value());
    EXPECT_NE(opened.error().message.find("owned by another user"), std::string::npos) << opened.error().message;
    return;
  }
  const std::string dir = path("theirs");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  auto opened = core::PrivateDirectory::open(dir, true);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kStorage);
  EXPECT_NE(opened.error().message.find("owned by another user (uid 65534)"), std::string::npos) << opened.error().message;
  EXPECT_FALSE(make_file_token_store(dir)->load("p").has_value());

  // A parent of another user could swap the state directory: refused too, even for our own.
  const std::string parent = path("their-parent");
  ASSERT_EQ(::mkdir(parent.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((parent + "/mine").c_str(), 0700), 0);
  ASSERT_EQ(::chown(parent.c_str(), 65534, 65534), 0);
  auto under = core::PrivateDirectory::open(parent + "/mine", true);
  ASSERT_FALSE(under.has_value());
  EXPECT_NE(under.error().message.find(parent + " belongs to another user"), std::string::npos) << under.error().message;
}

TEST_F(PrivateFiles, AParentWritableByOthersMustBeSticky) {
  const std::string parent = path("shared");
  ASSERT_EQ(::mkdir(parent.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(parent.c_str(), 0777), 0);
  auto opened = core::PrivateDirectory::open(parent + "/devicelogin", true);
  ASSERT_FALSE(opened.has_value());
  EXPECT_NE(opened.error().message.find(parent + " is writable by others and not sticky"), std::string::npos)
      << opened.error().message;
  EXPECT_FALSE(std::filesystem::exists(parent + "/devicelogin"));
  ASSERT_EQ(::chmod(parent.c_str(), 01777), 0);  // as /tmp
  auto sticky = core::PrivateDirectory::open(parent + "/devicelogin", true);
  ASSERT_TRUE(sticky.has_value()) << sticky.error().message;
  EXPECT_EQ(mode_of(parent + "/devicelogin"), 0700u);
}

TEST_F(PrivateFiles, WritesGoThroughTheDirectoryThatWasChecked) {
  auto opened = core::PrivateDirectory::open(path("state"), true);
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  // The checked directory is renamed away and another put in its place: the write still lands
  // in the checked one.
  ASSERT_EQ(::rename(path("state").c_str(), path("moved").c_str()), 0);
  ASSERT_EQ(::mkdir(path("state").c_str(), 0777), 0);
  ASSERT_TRUE((*opened)->write_file_atomically("t.json", "data").has_value());
  EXPECT_TRUE(std::filesystem::exists(path("moved/t.json")));
  EXPECT_FALSE(std::filesystem::exists(path("state/t.json")));
  auto read = (*opened)->read_private_file("t.json", "token file");
  ASSERT_TRUE(read.has_value() && read->has_value());
  EXPECT_EQ(**read, "data");
}

// remember_walked_parent (the `token` fast path) changes this process for good: each case runs
// in a child process (EXPECT_EXIT forks), whose exit code names the first check that failed.
TEST_F(PrivateFiles, ARememberedParentSkipsOnlyTheChecksAlreadyMade) {
  const std::string state = path("home/state");
  ASSERT_TRUE(core::ensure_private_directory(state + "/tokens").has_value());
  auto walk_twice = [&](auto between) {
    core::remember_walked_parent();
    auto tokens = core::PrivateDirectory::open(state + "/tokens", false);
    if (!tokens || !*tokens) std::_Exit(10);
    between();
    auto parent = core::PrivateDirectory::open(state, true);
    if (!parent) std::_Exit(parent.error().message.find("writable by group or others") != std::string::npos ? 21 : 20);
    if (!*parent) std::_Exit(22);
    // The held descriptor is the checked directory: a file written through it lands there.
    if (!(*parent)->write_file_atomically("audit.jsonl", "x").has_value()) std::_Exit(23);
    std::_Exit(0);
  };
  // The parents were checked on the first walk: a grandparent opened to others afterwards is not
  // looked at again (a walk from "/" would refuse it), which shows the walk started from the
  // remembered directory.
  EXPECT_EXIT(walk_twice([&] { (void)::chmod(path("home").c_str(), 0777); }), ::testing::ExitedWithCode(0), "");
  ASSERT_EQ(::chmod(path("home").c_str(), 0755), 0);
  EXPECT_TRUE(std::filesystem::exists(state + "/audit.jsonl"));
  // The directory's own checks still run: made writable by its group in between, it is refused.
  EXPECT_EXIT(walk_twice([&] { (void)::chmod(state.c_str(), 0770); }), ::testing::ExitedWithCode(21), "");
  ASSERT_EQ(::chmod(state.c_str(), 0700), 0);
  // Removed in between, the remembered directory is not used: the walk from "/" makes it again and
  // the file lands in the new one (not in the removed directory, where it would be lost).
  EXPECT_EXIT(walk_twice([&] { std::filesystem::remove_all(state); }), ::testing::ExitedWithCode(0), "");
  EXPECT_TRUE(std::filesystem::exists(state + "/audit.jsonl"));
  ASSERT_TRUE(core::ensure_private_directory(state + "/tokens").has_value());
  // Without the memo the same grandparent refuses the walk (the control for the first case).
  ASSERT_EQ(::chmod(path("home").c_str(), 0777), 0);
  EXPECT_FALSE(core::PrivateDirectory::open(state, true).has_value());
  ASSERT_EQ(::chmod(path("home").c_str(), 0755), 0);
}

TEST_F(PrivateFiles, ASymlinkedParentIsNotRemembered) {
  // home/link -> home/real: a parent on the way may be a symlink, the private directory itself may
  // not; remembered, the symlink would pass as the directory.
  ASSERT_TRUE(core::ensure_private_directory(path("home/real/tokens")).has_value());
  ASSERT_EQ(::symlink("real", path("home/link").c_str()), 0);
  const std::string link = path("home/link");
  EXPECT_EXIT(
      {
        core::remember_walked_parent();
        auto tokens = core::PrivateDirectory::open(link + "/tokens", false);
        if (!tokens || !*tokens) std::_Exit(10);
        auto parent = core::PrivateDirectory::open(link, false);
        std::_Exit(parent.has_value() ? 20 : 0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(PrivateFiles, RemoveFileReportsWhetherItExisted) {
  ASSERT_TRUE(core::write_file_atomically(path("f"), "x").has_value());
  auto removed = core::remove_file(path("f"));
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(*removed);
  auto again = core::remove_file(path("f"));
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again);
}

}  // namespace
}  // namespace devicelogin
