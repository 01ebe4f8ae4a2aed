// PROPWATCH_EXPORT marks the symbols of the engine's public API.
//
// The library is built with hidden symbol visibility, so a shared
// libpropwatch exports exactly what is marked here (the C++ API in these
// headers and the C ABI in c.h) and keeps its private dependencies (abseil's
// containers) out of the dynamic symbol table. GCC and Clang on ELF targets.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define PROPWATCH_EXPORT __attribute__((visibility("default")))
#else
#define PROPWATCH_EXPORT
#endif
