#!/bin/sh
# tools/check.sh - the whole test suite, as CI runs it: install packages, build,
# run every test, then rebuild with AddressSanitizer + UBSan and run them again.
set -eu
cd "$(dirname "$0")/.."
tools/setup.sh --test
meson test -C build --print-errorlogs --num-processes 2
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debug
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3
python3 - <<'PY'
import json
n = f = 0
for d in ("build", "build-asan"):
    for line in open(d + "/meson-logs/testlog.json"):
        r = json.loads(line)
        n += 1
        f += r["result"] not in ("OK", "SKIP", "EXPECTEDFAIL")
print("%d passed, %d failed" % (n - f, f))
PY
