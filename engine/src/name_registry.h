// NameRegistry: interns names (services, destinations) into dense small ids,
// up to a cap; names past the cap share the overflow id 0 (kOverflowService).
//
// Thread-safe. Lookup of a known name takes a shared lock and one hash probe;
// the first sighting of a name takes the exclusive lock. Memory: O(cap).
// Ids are stable for the registry's lifetime and below cap + 1.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "mutex.h"

namespace propwatch::detail {

class NameRegistry {
 public:
  static constexpr uint16_t kOverflowId = 0;

  // `cap` distinct names besides the overflow bucket. `flagger`, if set, is
  // evaluated once per new name and its result kept (e.g. "is entry point").
  // REQUIRES: cap <= 65'000.
  NameRegistry(uint32_t cap, std::function<bool(std::string_view)> flagger = nullptr);

  // The id of `name`, registering it if there is room; kOverflowId otherwise.
  // `*overflowed` (if given) is set to whether the name landed in overflow.
  uint16_t Intern(std::string_view name, bool* overflowed = nullptr);

  // Number of ids in use, overflow bucket included.
  size_t size() const;
  std::string Name(uint16_t id) const;
  bool Flag(uint16_t id) const;
  // Copies of all names and flags, indexed by id.
  void Copy(std::vector<std::string>* names, std::vector<bool>* flags) const;

 private:
  // The id of a known name, or kOverflowId when the registry is full;
  // nullopt when `name` is new and there is room.
  std::optional<uint16_t> FindLocked(std::string_view name, bool* overflowed) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const uint32_t cap_;
  const std::function<bool(std::string_view)> flagger_;

  mutable SharedMutex mu_;
  absl::flat_hash_map<std::string, uint16_t> ids_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> flags_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propwatch::detail
