#include "exporter/tap/fleet_dns.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "exporter/log/log.h"

namespace propwatch::tap {

absl::StatusOr<std::vector<std::string>> ResolveAll(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(name.c_str(), nullptr, &hints, &result); rc != 0) {
    return absl::UnavailableError("resolving " + name + ": " + gai_strerror(rc));
  }
  std::vector<std::string> out;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = ai->ai_family == AF_INET
                           ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                           : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if (inet_ntop(ai->ai_family, addr, text, sizeof(text)) != nullptr) out.emplace_back(text);
  }
  freeaddrinfo(result);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

FleetDnsWatcher::FleetDnsWatcher(std::string name, absl::Duration interval, OnChange on_change)
    : name_(std::move(name)), interval_(interval), on_change_(std::move(on_change)) {}

FleetDnsWatcher::~FleetDnsWatcher() { Stop(); }

void FleetDnsWatcher::Start() {
  ResolveOnce();
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(interval_)) ResolveOnce();
  });
}

void FleetDnsWatcher::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
}

void FleetDnsWatcher::ResolveOnce() {
  auto members = ResolveAll(name_);
  if (!members.ok()) {
    if (!failing_) {
      log::Warn("--fleet-dns: " + std::string(members.status().message()) +
                "; keeping the last known members until it resolves again");
    }
    failing_ = true;
    return;
  }
  if (failing_) log::Info("--fleet-dns: " + name_ + " resolves again");
  failing_ = false;
  if (reported_any_ && *members == last_) return;
  const bool initial = !reported_any_;
  reported_any_ = true;
  last_ = *std::move(members);
  on_change_(last_, initial);
}

}  // namespace propwatch::tap
