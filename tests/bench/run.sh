#!/bin/sh
# tests/bench/run.sh: measure routingd's durable accept and drain rates.
#
#   [API_WORKERS=N] [ARRAY=N] tests/bench/run.sh [seconds] [conns] [pipeline]
#       [users]
#
# Starts the built daemon (src/routingd) on loopback ports 18082/18083
# with a fresh data_dir under /var/tmp (a real disk: every commit is
# fsync'd), rate limiting off, then runs bench/routingd-bench (build it
# and the daemon first: make) twice:
#   1. offline: durable accepts/s (POST /api/send, keep-alive, pipelined,
#      ARRAY envelopes per request), with commits/s and the average batch
#      size from /metrics around it (its setup, one fetch per user, is
#      inside that window: the first fetch makes a user's device known,
#      so that the messages are queued for known offline devices, as in
#      production, not held for users with no device)
#   2. drain: the same sends, then GET /api/messages?limit=500 + ack of
#      every queue, msgs/s
# A measuring tool: run it by hand on a quiet machine; CI does not.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-10}; conns=${2:-800}; pipe=${3:-4}; users=${4:-1000}
api_workers=${API_WORKERS:-2}
array=${ARRAY:-1}		# envelopes per POST /api/send (1..100)
bench=./bench/routingd-bench
. ./tests/bench/lib.sh
bench_need "$bench"
bench_start offline <<CONF
api_workers = $api_workers
CONF
run() {
	"$bench" --api-port 18082 --ws-port 18083 \
	    --secret-file "$dir/data/jwt.secret" --senders "$conns" \
	    --pipeline "$pipe" --users "$users" --warmup 0 --seconds "$secs" \
	    --array "$array" "$@"
}
c0=$(bench_metric routingd_store_commit_duration_seconds_count)
s0=$(bench_metric routingd_store_commit_duration_seconds_sum)
r0=$(bench_metric routingd_store_batch_requests_sum)
t0=$(date +%s.%N)
run offline
t1=$(date +%s.%N)
c1=$(bench_metric routingd_store_commit_duration_seconds_count)
s1=$(bench_metric routingd_store_commit_duration_seconds_sum)
r1=$(bench_metric routingd_store_batch_requests_sum)
awk -v c0="$c0" -v c1="$c1" -v r0="$r0" -v r1="$r1" -v t0="$t0" -v t1="$t1" \
    -v s0="$s0" -v s1="$s1" \
    'BEGIN { n = c1 - c0
	fmt = "commits: %.0f/s, average batch %.1f requests, commit %.2f ms\n"
	printf fmt, n / (t1 - t0), (n > 0 ? (r1 - r0) / n : 0),
	    (n > 0 ? 1000 * (s1 - s0) / n : 0) }'
run drain
