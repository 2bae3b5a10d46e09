#pragma once
// While a FreeQuarantine lives, memory released with operator delete is kept, unfreed and
// untouched, instead of returning to malloc (as ASan's quarantine keeps freed blocks). A memory
// scan then finds a copy of a secret that was freed unwiped in every build: glibc would otherwise
// reuse such a block soon and overwrite the copy, and the scan's result would depend on luck.
// Without ASan, this binary replaces the global operator new/delete (free_quarantine.cpp); under
// ASan, whose own quarantine does this, it does nothing.
namespace devicelogin::testing {

class FreeQuarantine {
 public:
  FreeQuarantine();
  ~FreeQuarantine();  // frees what was kept
  FreeQuarantine(const FreeQuarantine&) = delete;
  FreeQuarantine& operator=(const FreeQuarantine&) = delete;
};

}  // namespace devicelogin::testing
