#!/bin/sh
# Fails when a tracked C file differs from what .clang-format makes of it.
cd "$(dirname "$0")/.." || exit 2
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null); do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f (run clang-format -i $f)"; bad=1; }
done
exit $bad
