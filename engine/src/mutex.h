// The engine's mutex types. Normally absl::Mutex and its scoped locks.
//
// ThreadSanitizer cannot see synchronization inside a prebuilt,
// uninstrumented abseil (Debian's shared library), so it would report every
// guarded access as a race. Builds with PROPWATCH_STD_MUTEX (set by
// -DPROPWATCH_SANITIZE=thread) use the same interface over std::shared_mutex,
// whose pthread calls TSan intercepts. Annotations work in both.
#pragma once

#include "absl/base/thread_annotations.h"

#if defined(PROPWATCH_STD_MUTEX)
#include <shared_mutex>
#else
#include "absl/synchronization/mutex.h"
#endif

namespace propwatch::detail {

#if defined(PROPWATCH_STD_MUTEX)

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  Mutex* const mu_;
};

#else

using Mutex = absl::Mutex;
using MutexLock = absl::MutexLock;
using ReaderMutexLock = absl::ReaderMutexLock;

#endif

}  // namespace propwatch::detail
