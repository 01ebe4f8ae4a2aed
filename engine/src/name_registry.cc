#include "name_registry.h"

#include "absl/strings/string_view.h"
#include "propwatch/engine_options.h"

namespace propwatch::detail {

NameRegistry::NameRegistry(uint32_t cap, std::function<bool(std::string_view)> flagger)
    : cap_(cap), flagger_(std::move(flagger)) {
  names_.emplace_back(kOverflowService);
  flags_.push_back(false);
}

std::optional<uint16_t> NameRegistry::FindLocked(std::string_view name, bool* overflowed) const {
  auto it = ids_.find(absl::string_view(name.data(), name.size()));
  if (it != ids_.end()) {
    if (overflowed) *overflowed = false;
    return it->second;
  }
  if (ids_.size() >= cap_) {
    if (overflowed) *overflowed = true;
    return kOverflowId;
  }
  return std::nullopt;
}

uint16_t NameRegistry::Intern(std::string_view name, bool* overflowed) {
  {
    ReaderMutexLock lock(&mu_);
    if (auto id = FindLocked(name, overflowed)) return *id;
  }
  // Evaluate the flag outside the lock: globs can be slow-ish.
  bool flag = flagger_ ? flagger_(name) : false;
  SharedMutexLock lock(&mu_);
  if (auto id = FindLocked(name, overflowed)) return *id;  // another thread won
  const auto id = static_cast<uint16_t>(names_.size());
  ids_.emplace(std::string(name), id);
  names_.emplace_back(name);
  flags_.push_back(flag);
  if (overflowed) *overflowed = false;
  return id;
}

size_t NameRegistry::size() const {
  ReaderMutexLock lock(&mu_);
  return names_.size();
}

std::string NameRegistry::Name(uint16_t id) const {
  ReaderMutexLock lock(&mu_);
  return id < names_.size() ? names_[id] : std::string();
}

bool NameRegistry::Flag(uint16_t id) const {
  ReaderMutexLock lock(&mu_);
  return id < flags_.size() && flags_[id];
}

void NameRegistry::Copy(std::vector<std::string>* names, std::vector<bool>* flags) const {
  ReaderMutexLock lock(&mu_);
  *names = names_;
  *flags = flags_;
}

}  // namespace propwatch::detail
