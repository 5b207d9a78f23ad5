#!/usr/bin/env bash
# Builds darasa's libFuzzer targets (tests/fuzz/targets: cohort, roster, ics,
# config, api, plugin, engine) with clang in their own build directory (only
# the targets and what they link, with ASan+UBSan), then runs each for
# DARASA_FUZZ_SECONDS (default 30) from its seeds: tests/fuzz/corpus/<target>/,
# the examples tests/fuzz/seeds.list names, tests/fuzz/regressions/<target>/.
# Prints the executions per target. Exit 1 on any crash, hang or broken
# property: the input is kept under $build/fuzz-crashes/<target>/; fix the
# code, then commit the input to tests/fuzz/regressions/<target>/ so that
# darasa_fuzz_regression_tests replays it in every normal build.
#
#   scripts/fuzz.sh                  all targets, 30 s each, two at a time
#   scripts/fuzz.sh cohort api       only these
#   DARASA_FUZZ_SECONDS=600 scripts/fuzz.sh engine
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build="${DARASA_FUZZ_BUILD_DIR:-build-fuzz}"
seconds="${DARASA_FUZZ_SECONDS:-30}"
jobs="${DARASA_FUZZ_JOBS:-$(nproc)}"
cxx="${DARASA_FUZZ_CXX:-clang++-15}"
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (scripts/install-deps.sh installs clang-15 and libfuzzer-15-dev)" >&2; exit 1; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/targets/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

start=$(date +%s)
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$build/Makefile" ]; then generator=(-G Ninja); fi
CXX="$cxx" cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDARASA_FUZZ=ON \
  -DDARASA_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target darasa_fuzz -j"$(nproc)" >"$build/fuzz-build.log" 2>&1 ||
  { tail -30 "$build/fuzz-build.log" >&2; echo "fuzz: build failed (whole log: $build/fuzz-build.log)" >&2; exit 1; }
echo "fuzz: built ${#targets[@]} target(s) in $(( $(date +%s) - start )) s ($build)"

# One target: seeds into a working corpus, a bounded run, its figures.
run_one() {
  local t=$1 work="$build/fuzz-work/$1" crashes="$build/fuzz-crashes/$1"
  rm -rf "$work" && mkdir -p "$work/corpus" "$crashes"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null || true
  cp tests/fuzz/regressions/"$t"/* "$work/corpus/" 2>/dev/null || true
  while read -r name globs; do
    [ "$name" = "$t" ] || continue
    for f in $globs; do [ -f "$f" ] && cp "$f" "$work/corpus/"; done
  done < <(grep -v '^#' tests/fuzz/seeds.list)
  local rc=0
  # ASan/UBSan reports abort (a crash for libFuzzer); -timeout: an input
  # running longer is a hang; -rss_limit_mb: memory that grows without end.
  (cd "$work" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$root/$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$root/$crashes/" corpus >log 2>&1) || rc=$?
  local execs cov units
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
  units=$(find "$work/corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    echo "fuzz $t: FAILED after ${execs:-?} executions (exit $rc); input(s) in $crashes:"
    ls "$crashes" | sed 's/^/  /'
    grep -m1 -E 'ERROR: |runtime error|fuzz property broken|Timeout|out-of-memory' "$work/log" | sed 's/^/  /'
    echo "  log: $work/log"
    return 1
  fi
  echo "fuzz $t: ${execs:-0} executions in ${seconds} s, coverage ${cov:-?}, corpus $units, 0 crashes"
}

failed=0
pids=()
names=()
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/targets/$t.cpp" ] || { echo "fuzz: no target $t (tests/fuzz/targets/)" >&2; exit 2; }
  run_one "$t" >"$build/fuzz-$t.result" &
  pids+=($!)
  names+=("$t")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed=$((failed + 1))
  cat "$build/fuzz-${names[$i]}.result"
done
echo "fuzz: ${#targets[@]} target(s), $failed failed, $(( $(date +%s) - start )) s in all"
[ "$failed" -eq 0 ]
