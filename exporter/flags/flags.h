// FlagSet: the one command-line parser of every propwatch program and
// subcommand (the tap, `propwatch check`, `propwatch trace`, bench/otlp_load).
//
// Rules, the same everywhere:
//   - `--name=value` and `--name value` are the same (a value that starts
//     with "--" needs the first form, so a forgotten value never swallows
//     the next flag); a boolean flag takes `--name` or `--name=false`;
//   - `--help` / `-h` anywhere asks for the usage text (Parse reports it);
//   - an unknown flag, a missing value, a bad value or a stray positional
//     argument is an InvalidArgument error naming the flag;
//   - values are applied in command-line order, so a later flag wins.
// Each flag owns its parsing (typed helpers below, or a custom function), so
// the same flag set also applies values from a config file or the
// environment (Apply), as the tap does.
//
// Thread-compatible. Parsing is O(arguments x flags).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace propwatch::flags {

struct Flag {
  std::string name;          // without the leading dashes
  std::string default_text;  // shown in the usage text; empty: none
  std::string help;
  // Parses `value` and stores it; an error message need not name the flag.
  std::function<absl::Status(std::string_view value)> apply;
  bool is_bool = false;  // may stand alone
};

class FlagSet {
 public:
  // `usage`: the synopsis lines ("propwatch check --trace-id=ID [flags]");
  // `summary`: one sentence on what the command does.
  FlagSet(std::string usage, std::string summary);

  FlagSet& Add(Flag flag);
  // Typed flags; the default shown is the target's value at this call.
  FlagSet& String(std::string name, std::string* target, std::string help);
  FlagSet& Uint64(std::string name, uint64_t* target, std::string help, uint64_t min = 0,
                  uint64_t max = UINT64_MAX);
  FlagSet& Int(std::string name, int* target, std::string help, int min, int max);
  FlagSet& Double(std::string name, double* target, std::string help, double min, double max);
  FlagSet& Bool(std::string name, bool* target, std::string help);
  FlagSet& Duration(std::string name, absl::Duration* target, std::string help);

  struct Parsed {
    bool help = false;                      // --help or -h was given
    std::vector<std::string> positional;    // in order
  };
  // Applies every flag in `args` (argv without the program and subcommand)
  // in order. At most `max_positional` non-flag arguments are accepted.
  absl::StatusOr<Parsed> Parse(std::span<const std::string_view> args,
                               size_t max_positional = 0);

  // The flags of `args` as (name, value) pairs without applying them, for
  // callers that layer other sources underneath (the tap: file, environment).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Split(
      std::span<const std::string_view> args, Parsed* parsed, size_t max_positional = 0) const;

  // Applies one value to the named flag. Errors read "--name: why".
  absl::Status Apply(std::string_view name, std::string_view value);

  const Flag* Find(std::string_view name) const;
  const std::vector<Flag>& flags() const { return flags_; }

  // Synopsis, summary, then every flag with its default and help.
  std::string Usage() const;

 private:
  std::string usage_;
  std::string summary_;
  std::vector<Flag> flags_;
};

}  // namespace propwatch::flags
