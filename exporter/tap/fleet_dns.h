// FleetDnsWatcher: learns the fleet's membership the way the collector's
// load_balancing `dns` resolver does, by resolving one name (a Kubernetes
// headless Service) every interval, and reports each change.
//
// Contract: Start() resolves once synchronously (the tap calls it once its
// listeners are up) and then every `interval` on its own thread; each
// time the sorted set of addresses differs from the last one reported, it
// calls `on_change` with it. A failed lookup keeps the previous set (a DNS
// outage is not a rollout) and is logged once per run of failures. Stop()
// waits for a lookup in progress (bounded by the resolver's own timeout).
// Thread-safety: Start/Stop from one thread; on_change runs on the watcher's
// thread. Cost: one getaddrinfo per interval.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace propwatch::tap {

// Sorted, de-duplicated numeric addresses of `name` (IPv4 and IPv6).
absl::StatusOr<std::vector<std::string>> ResolveAll(const std::string& name);

class FleetDnsWatcher {
 public:
  // `initial`: the first set learned (at Start), not a change.
  using OnChange = std::function<void(const std::vector<std::string>& members, bool initial)>;
  FleetDnsWatcher(std::string name, absl::Duration interval, OnChange on_change);
  ~FleetDnsWatcher();  // Stop()
  FleetDnsWatcher(const FleetDnsWatcher&) = delete;
  FleetDnsWatcher& operator=(const FleetDnsWatcher&) = delete;

  void Start();
  void Stop();

 private:
  void ResolveOnce();

  const std::string name_;
  const absl::Duration interval_;
  const OnChange on_change_;
  std::vector<std::string> last_;
  bool reported_any_ = false;
  bool failing_ = false;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace propwatch::tap
