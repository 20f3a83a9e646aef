#!/bin/sh
# tests/fuzz/run.sh [seconds-per-target]: run each fuzz target that the
# build tree has (./configure CC=clang --enable-fuzzing && make fuzz; this
# script builds nothing) first once over its checked-in corpus
# (tests/fuzz/corpus/<target>, -runs=0), then for the given seconds
# (default 10, 0: the corpus only) with a scratch copy of that corpus, so
# the checked-in one is never modified.  Prints one line per target:
#   fuzz_http: ok, 123456 runs in 10 s
# or FAILED with the reproducer libFuzzer saved (under the build tree's
# tests/fuzz/artifacts/; run the target on it) and the end of the log.
# The last line is "fuzz: N passed, N failed, 0 skipped".  Run it from the build directory, or set BUILDDIR.
# A target that is not built is reported "not built" and fails the run.
# Exit status: 0 if every target ran without a crash, a leak or an
# abort, 1 otherwise.
set -u

secs=${1:-10}
case $secs in
''|*[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
builddir=${BUILDDIR:-$(pwd)}
targets="fuzz_b64 fuzz_config fuzz_http fuzz_ipc fuzz_json fuzz_jwt fuzz_wsframe"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/rtd-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM
# Leaks are failures; bounded memory: -rss_limit_mb and -malloc_limit_mb.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

status=0
npass=0
nfail=0
for t in $targets; do
	bin=$builddir/tests/fuzz/$t
	name=${t#fuzz_}
	if [ ! -x "$bin" ]; then
		echo "$t: FAILED, not built ($bin)"
		status=1; nfail=$((nfail + 1))
		continue
	fi
	log=$scratch/$t.log
	art=$builddir/tests/fuzz/artifacts/$t-
	mkdir -p "${art%/*}" "$scratch/$t-corpus"
	rm -f "$art"*
	cp "$here/corpus/$name"/* "$scratch/$t-corpus/" 2>/dev/null
	lim="-rss_limit_mb=1024 -malloc_limit_mb=512 -artifact_prefix=$art"
	# shellcheck disable=SC2086
	if ! "$bin" $lim -runs=0 "$here/corpus/$name" >"$log" 2>&1; then
		ok=no
	elif [ "$secs" -gt 0 ]; then
		# shellcheck disable=SC2086
		"$bin" $lim -max_total_time="$secs" -timeout=10 \
		    "$scratch/$t-corpus" >>"$log" 2>&1 && ok=yes || ok=no
	else
		ok=yes
	fi
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' \
	    "$log" | tail -n 1)
	if [ "$ok" = yes ]; then
		echo "$t: ok, ${runs:-? runs}"
		npass=$((npass + 1))
	else
		a=$(ls "$art"* 2>/dev/null | head -n 1)
		echo "$t: FAILED after ${runs:-? runs}; reproducer: ${a:-none}"
		tail -n 30 "$log" | sed "s/^/  $t| /"
		status=1; nfail=$((nfail + 1))
	fi
done
echo "fuzz: $npass passed, $nfail failed, 0 skipped"
exit "$status"
