"""Static knowledge for `deleted_exe`: who deletes running programs as part of their job.

Always true: package managers remove and replace programs that may be running (their
lineage is recognised through `process_identity.PACKAGE_MANAGERS`); build drivers delete
the test programs they built and ran (`make clean`, `cargo`, `go test`).
"""

from __future__ import annotations

#: build drivers whose descendants clean up what they built
BUILD_DRIVERS: frozenset[str] = frozenset({
    "make", "gmake", "ninja", "cmake", "meson", "cargo", "go", "bazel", "scons", "ctest",
    "mvn", "gradle", "dotnet", "msbuild",
})
