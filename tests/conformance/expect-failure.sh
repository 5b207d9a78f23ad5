#!/bin/sh
# darasa-conformance against a deliberately broken plugin (plugins/
# darasa-provider-broken): it must exit 1 and its summary must name the two
# rules the plugin breaks, and not rules it keeps (deadlines, stop/start).
#   expect-failure.sh DARASA_CONFORMANCE BROKEN_PLUGIN
set -u
out=$("$1" --plugin "$2" 2>&1)
rc=$?
printf '%s\n' "$out"
fail() { echo "expect-failure.sh: $*" >&2; exit 1; }
[ "$rc" -eq 1 ] || fail "darasa-conformance exited $rc, expected 1 (a broken rule)"
summary=$(printf '%s\n' "$out" | sed -n '/^darasa-conformance: broken (.*) FAILS/,$p')
[ -n "$summary" ] || fail "no summary line 'darasa-conformance: broken (...) FAILS ...'"
printf '%s\n' "$summary" | grep -q '^  - CreateIsIdempotentAndMakesOneLabelledResource: create is idempotent' ||
  fail "the summary does not name the idempotent-create rule"
printf '%s\n' "$summary" | grep -q '^  - DestroyOfAMissingLabSucceedsAndInspectSaysNotFound: destroying a lab that does not exist succeeds' ||
  fail "the summary does not name the destroy-of-a-missing-lab rule"
for kept in CallsReturnByTheirDeadline StopAndStartKeepTheLabWhereSupported; do
  if printf '%s\n' "$summary" | grep -q "$kept"; then fail "the summary blames $kept, a rule the plugin keeps"; fi
done
echo "expect-failure.sh: darasa-conformance failed the broken plugin for the right reasons"
