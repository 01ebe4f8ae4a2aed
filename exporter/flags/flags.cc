#include "exporter/flags/flags.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

namespace propwatch::flags {
namespace {

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(message); }

template <typename T>
std::string ToText(T value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

absl::Status ParseBool(std::string_view value, bool* out) {
  if (value == "true" || value == "1" || value == "yes") {
    *out = true;
  } else if (value == "false" || value == "0" || value == "no") {
    *out = false;
  } else {
    return Invalid("not a boolean (true or false): '" + std::string(value) + "'");
  }
  return absl::OkStatus();
}

}  // namespace

FlagSet::FlagSet(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

FlagSet& FlagSet::Add(Flag flag) {
  flags_.push_back(std::move(flag));
  return *this;
}

FlagSet& FlagSet::String(std::string name, std::string* target, std::string help) {
  return Add({std::move(name), *target, std::move(help), [target](std::string_view v) {
                *target = std::string(v);
                return absl::OkStatus();
              }});
}

namespace {

// A whole-number flag of type T within [min, max].
template <typename T>
Flag IntegerFlag(std::string name, T* target, std::string help, T min, T max) {
  return {std::move(name), ToText(*target), std::move(help),
          [target, min, max](std::string_view v) {
            T n = 0;
            auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
              return Invalid("not a whole number: '" + std::string(v) + "'");
            }
            if (n < min || n > max) {
              return Invalid("must be in [" + ToText(min) + ", " + ToText(max) + "]");
            }
            *target = n;
            return absl::OkStatus();
          }};
}

}  // namespace

FlagSet& FlagSet::Uint64(std::string name, uint64_t* target, std::string help, uint64_t min,
                         uint64_t max) {
  return Add(IntegerFlag(std::move(name), target, std::move(help), min, max));
}

FlagSet& FlagSet::Int(std::string name, int* target, std::string help, int min, int max) {
  return Add(IntegerFlag(std::move(name), target, std::move(help), min, max));
}

FlagSet& FlagSet::Double(std::string name, double* target, std::string help, double min,
                         double max) {
  return Add({std::move(name), ToText(*target), std::move(help),
              [target, min, max](std::string_view v) {
                const std::string text(v);
                char* end = nullptr;
                const double d = std::strtod(text.c_str(), &end);
                if (text.empty() || end != text.c_str() + text.size()) {
                  return Invalid("not a number: '" + text + "'");
                }
                if (!(d >= min && d <= max)) {
                  return Invalid("must be in [" + ToText(min) + ", " + ToText(max) + "]");
                }
                *target = d;
                return absl::OkStatus();
              }});
}

FlagSet& FlagSet::Bool(std::string name, bool* target, std::string help) {
  Flag flag{std::move(name), *target ? "true" : "false", std::move(help),
            [target](std::string_view v) { return ParseBool(v, target); }};
  flag.is_bool = true;
  return Add(std::move(flag));
}

FlagSet& FlagSet::Duration(std::string name, absl::Duration* target, std::string help) {
  return Add({std::move(name), absl::FormatDuration(*target), std::move(help),
              [target](std::string_view v) {
                absl::Duration d;
                if (!absl::ParseDuration(std::string(v), &d)) {
                  return Invalid("not a duration (e.g. 30s, 5m, 500ms): '" + std::string(v) + "'");
                }
                *target = d;
                return absl::OkStatus();
              }});
}

const Flag* FlagSet::Find(std::string_view name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> FlagSet::Split(
    std::span<const std::string_view> args, Parsed* parsed, size_t max_positional) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed->help = true;
      continue;
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      if (parsed->positional.size() >= max_positional) {
        return Invalid("unexpected argument '" + std::string(arg) + "' (see --help)");
      }
      parsed->positional.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(2);
    std::string_view name = arg, value;
    const size_t eq = arg.find('=');
    if (eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const Flag* flag = Find(name);
    if (flag == nullptr) return Invalid("unknown flag '--" + std::string(name) + "' (see --help)");
    if (eq == std::string_view::npos) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
        // A value that starts with "--" must be written --name=--value: a
        // forgotten value must not swallow the next flag.
        value = args[++i];
      } else {
        return Invalid("--" + std::string(name) + ": missing value");
      }
    }
    out.emplace_back(std::string(name), std::string(value));
  }
  return out;
}

absl::StatusOr<FlagSet::Parsed> FlagSet::Parse(std::span<const std::string_view> args,
                                               size_t max_positional) {
  Parsed parsed;
  auto pairs = Split(args, &parsed, max_positional);
  if (!pairs.ok()) return pairs.status();
  if (parsed.help) return parsed;
  for (const auto& [name, value] : *pairs) {
    if (absl::Status s = Apply(name, value); !s.ok()) return s;
  }
  return parsed;
}

absl::Status FlagSet::Apply(std::string_view name, std::string_view value) {
  const Flag* flag = Find(name);
  if (flag == nullptr || !flag->apply) {
    return Invalid("unknown setting '" + std::string(name) + "' (see --help)");
  }
  if (absl::Status s = flag->apply(value); !s.ok()) {
    return Invalid("--" + std::string(name) + ": " + std::string(s.message()));
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out = usage_ + "\n\n" + summary_ +
                    "\n\nFlags (--name=value or --name value; a boolean alone means true):\n";
  for (const Flag& f : flags_) {
    out += "  --" + f.name;
    if (!f.default_text.empty()) out += " (default " + f.default_text + ")";
    out += "\n      " + f.help + "\n";
  }
  out += "  --help\n      This text.\n";
  return out;
}

}  // namespace propwatch::flags
