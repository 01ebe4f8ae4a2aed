#include "exporter/log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>

#include "exporter/text/text.h"

namespace propwatch::log {
namespace {

struct Sink {
  std::mutex mu;
  std::ostream* out = &std::cerr;
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  std::atomic<Format> format{Format::kText};
};

Sink& TheSink() {
  static Sink* const sink = new Sink();  // never destroyed: logging works during exit
  return *sink;
}

std::string Timestamp(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];  // room for any int fields, so never truncated (-Wformat-truncation)
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buffer;
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn") return Level::kWarn;
  if (name == "error") return Level::kError;
  return absl::InvalidArgumentError("log level must be debug, info, warn or error; got '" +
                                    std::string(name) + "'");
}

absl::StatusOr<Format> ParseFormat(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return absl::InvalidArgumentError("log format must be text or json; got '" + std::string(name) +
                                    "'");
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void Configure(Level min_level, Format format, std::ostream* out) {
  Sink& sink = TheSink();
  std::lock_guard<std::mutex> lock(sink.mu);
  sink.min_level = static_cast<int>(min_level);
  sink.format = format;
  sink.out = out ? out : &std::cerr;
}

std::string FormatLine(Format format, Level level, int64_t time_unix_ms, std::string_view message) {
  std::string line;
  if (format == Format::kJson) {
    line = "{\"ts\":\"" + Timestamp(time_unix_ms) + "\",\"level\":\"";
    line.append(LevelName(level)).append("\",\"msg\":");
    text::AppendJsonString(&line, message);
    line.append("}\n");
    return line;
  }
  line = Timestamp(time_unix_ms);
  line.append(" ").append(LevelName(level)).append(" ");
  // One event, one line: control characters would split or forge lines.
  for (char c : text::ToValidUtf8(message)) {
    line.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  }
  line.push_back('\n');
  return line;
}

void Log(Level level, std::string_view message) {
  Sink& sink = TheSink();
  if (static_cast<int>(level) < sink.min_level.load(std::memory_order_relaxed)) return;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string line = FormatLine(sink.format.load(), level, now_ms, message);
  std::lock_guard<std::mutex> lock(sink.mu);
  *sink.out << line << std::flush;
}

}  // namespace propwatch::log
