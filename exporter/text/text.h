// Text helpers shared by everything the tap writes out (OTLP responses,
// Prometheus labels, the trace API). Span names, service names and messages
// arrive from the wire without UTF-8 validation, and every output format here
// requires UTF-8, so they all go through ToValidUtf8 / AppendJsonString.
//
// Pure functions; thread-safe; O(length of the input).
#pragma once

#include <string>
#include <string_view>

namespace propwatch::text {

// `text` with every byte that does not start a valid UTF-8 sequence (overlong
// forms, surrogates and code points past U+10FFFF included) replaced by
// U+FFFD.
std::string ToValidUtf8(std::string_view text);

// Appends `text` as a JSON string literal (quotes included), escaped and made
// valid UTF-8 as ToValidUtf8 does.
void AppendJsonString(std::string* out, std::string_view text);

}  // namespace propwatch::text
