// The tap's log: one line per event on stderr, with a UTC timestamp and a
// level, as text or JSON (--log-format), filtered by --log-level.
//
//   text: 2026-12-03T08:47:01.123Z info listening: otlp-grpc=127.0.0.1:4417 ...
//   json: {"ts":"2026-12-03T08:47:01.123Z","level":"info","msg":"listening: ..."}
//
// Messages are made valid UTF-8 (JSON escaped in json format); a text line
// never contains a raw newline, so one event is one line for journald and
// log shippers.
//
// Thread-safe: lines from concurrent threads never interleave. Configure once
// at start-up, before other threads log. Cost: one formatted write per line.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace propwatch::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };
enum class Format { kText, kJson };

absl::StatusOr<Level> ParseLevel(std::string_view name);    // debug|info|warn|error
absl::StatusOr<Format> ParseFormat(std::string_view name);  // text|json
std::string_view LevelName(Level level);

// Lines below `min_level` are dropped. `out` must outlive all logging; the
// default is std::cerr at info, text.
void Configure(Level min_level, Format format, std::ostream* out = nullptr);

void Log(Level level, std::string_view message);
inline void Debug(std::string_view m) { Log(Level::kDebug, m); }
inline void Info(std::string_view m) { Log(Level::kInfo, m); }
inline void Warn(std::string_view m) { Log(Level::kWarn, m); }
inline void Error(std::string_view m) { Log(Level::kError, m); }

// The line Log would write at `time_unix_ms` (for tests).
std::string FormatLine(Format format, Level level, int64_t time_unix_ms, std::string_view message);

}  // namespace propwatch::log
