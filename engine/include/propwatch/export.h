/* PROPWATCH_EXPORT marks the symbols of the engine's public API.
 *
 * The library is built with hidden symbol visibility (and, when shared, a
 * linker version script: src/exports.map), so a shared libpropwatch exports
 * the C++ API in these headers and the C ABI in c.h and nothing else.
 * GCC and Clang on ELF targets. C89-clean: c.h includes it. */
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define PROPWATCH_EXPORT __attribute__((visibility("default")))
#else
#define PROPWATCH_EXPORT
#endif
