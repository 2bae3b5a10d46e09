// Profile files as ProfileStore reads them (NAME.json in its profiles directory).
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "devicelogin/advanced/profile_store.hpp"
#include "devicelogin/profile.hpp"
#include "fuzz_input.hpp"
#include "store/profile_reading.hpp"

namespace {
std::string directory;  // private to this run, on tmpfs when there is one
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  namespace fs = std::filesystem;
  fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  directory = (base / ("devicelogin-fuzz-profiles-" + std::to_string(::getpid()))).string();
  fs::create_directories(directory);
  fs::permissions(directory, fs::perms::owner_all);
  std::atexit([] { std::filesystem::remove_all(directory); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  std::string path = directory + "/fuzz.json";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  for (std::size_t written = 0; written < size;) {
    auto n = ::write(fd, data + written, size - written);
    if (n <= 0) std::abort();
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  ProfileStore store(directory);
  auto profile = store.load("fuzz");
  if (profile) {
    fuzz::check(profile->name == "fuzz");
  } else {
    fuzz::check(!profile.error().message.empty());
  }
  // The token fast path's reading (without the JWKS cache) refuses and accepts the same files.
  auto fast = store::load_profile(store, "fuzz", store::ProfileParts::kWithoutJwksCache);
  fuzz::check(fast.has_value() == profile.has_value());
  if (fast && profile) {
    fuzz::check(fast->jwks_cache.empty() && fast->client_id == profile->client_id &&
                fast->endpoints.token == profile->endpoints.token && fast->store == profile->store &&
                fast->api_urls == profile->api_urls && fast->clock_offset_s == profile->clock_offset_s &&
                fast->jwks_cache_expires_at == profile->jwks_cache_expires_at);
  } else if (!fast && !profile) {
    fuzz::check(fast.error().code == profile.error().code && fast.error().message == profile.error().message);
  }
  return 0;
}
