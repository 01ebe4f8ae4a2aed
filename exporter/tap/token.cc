#include "exporter/tap/token.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace propwatch::tap {

absl::StatusOr<std::string> ReadTokenFile(const std::string& path, std::string_view flag) {
  const std::string where = "--" + std::string(flag) + ": '" + path + "'";
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(where + " cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  token.erase(token.begin(), std::find_if(token.begin(), token.end(), not_space));
  token.erase(std::find_if(token.rbegin(), token.rend(), not_space).base(), token.end());
  if (token.empty()) return absl::InvalidArgumentError(where + " is empty");
  return token;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace propwatch::tap
