#pragma once
// For tests of what happens when mlock is refused: makes this process unable to lock memory, as
// an unprivileged one with RLIMIT_MEMLOCK at 0 is. Call it in a forked child only (limits and
// capabilities are per process).
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace devicelogin::testing {

// Drops CAP_IPC_LOCK (with it, root ignores RLIMIT_MEMLOCK) and sets RLIMIT_MEMLOCK to 0. False
// when the kernel refused either step.
inline bool refuse_memory_locking() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
  data[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
  if (::syscall(SYS_capset, &header, data) != 0) return false;
  const rlimit none{0, 0};
  return ::setrlimit(RLIMIT_MEMLOCK, &none) == 0;
}

}  // namespace devicelogin::testing
