# The engine's version, the one place it is written. The top-level project
# and the standalone engine build both read it. Policy: docs/versioning.md.
set(PROPWATCH_VERSION 0.2.0)
