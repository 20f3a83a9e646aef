#!/bin/sh
# tests/bench/online.sh: measure routingd's online path (POST /api/send
# delivered over WebSocket to connected devices).
#
#   [API_WORKERS=N] [WS_WORKERS=N] tests/bench/online.sh
#
# Starts the built daemon (src/routingd) on loopback ports 18082/18083
# with a fresh data_dir under /var/tmp (a real disk: every commit is
# fsync'd), rate limiting off, then runs bench/routingd-bench (build it
# and the daemon first: make) twice against it:
#   a. throughput: 1000 connected users, sends as fast as 400 pipelined
#      connections get answers; messages received over WebSocket per s
#   b. latency: 10,000 connected users over 2 client processes, 5000
#      msgs/s paced; send-to-delivery percentiles
# After each, the daemon's delivery histogram (commit to frame written)
# and dropped doorbells from /metrics, and the CPU time each process
# used.  A measuring tool: run it by hand on a quiet machine; CI does not.
set -eu
cd "$(dirname "$0")/../.."
api_workers=${API_WORKERS:-2}
ws_workers=${WS_WORKERS:-2}
bench=./bench/routingd-bench
. ./tests/bench/lib.sh
bench_need "$bench"
# 10,000 WebSockets: the daemon and each client process need the fds.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bench_start online <<CONF
api_workers = $api_workers
ws_workers = $ws_workers
CONF
secret=$dir/data/jwt.secret

# "pid cpu-seconds title" for the daemon and each of its workers.
cpu() {
	for p in $pid $(pgrep -P "$pid" || true); do
		[ -r "/proc/$p/stat" ] || continue
		awk -v hz="$(getconf CLK_TCK)" -v p="$p" \
		    -v t="$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)" '{
			s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
			printf "%s %.2f %s\n", p, (f[12] + f[13]) / hz, t }' \
		    "/proc/$p/stat"
	done
}
# What each daemon process used since the snapshot in file $1.
cpu_delta() {
	cpu | awk 'NR == FNR { before[$1] = $2; next }
	    { d = $2 - before[$1]; total += d; $2 = ""; t = $0
	      sub(/^[0-9]+  /, "", t)
	      printf "    %-24s pid %-8s %6.2f s\n", t, $1, d }
	    END { printf "    %-24s %14.2f s\n", "daemon total", total }' \
	    "$1" -
}
# The delivery histogram (commit to frame written, cumulative) with the
# mean of this run, and the doorbells dropped so far.
show_metrics() {
	curl -s http://127.0.0.1:18082/metrics > "$dir/metrics"
	awk -v s0="${dsum:-0}" -v c0="${dcount:-0}" '
	    $1 == "routingd_ws_delivery_seconds_sum" { s = $2; print "  " $0 }
	    $1 == "routingd_ws_delivery_seconds_count" { c = $2
		print "  " $0 }
	    $1 == "routingd_handoffs_dropped_total" { print "  " $0 }
	    END { if (c > c0) printf "  (this run: %d deliveries, mean " \
		"%.2f ms)\n", c - c0, 1000 * (s - s0) / (c - c0) }' \
	    "$dir/metrics"
	dsum=$(awk '$1 == "routingd_ws_delivery_seconds_sum" { print $2 }' \
	    "$dir/metrics")
	dcount=$(awk '$1 == "routingd_ws_delivery_seconds_count" {
	    print $2 }' "$dir/metrics")
}
# Run the generator with its CPU time (user+system of it and its children).
timed() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f "  routingd-bench cpu: %U s user, %S s system, \
%e s elapsed, max rss %M KiB" "$@"
	else
		"$@"
	fi
}
run() {
	echo "routingd-bench $*"
	cpu > "$dir/cpu.before"
	if ! timed "$bench" --api-port 18082 --ws-port 18083 \
	    --secret-file "$secret" "$@"; then
		echo "online.sh: routingd-bench failed; the daemon's log:" >&2
		cat "$dir/routingd.log" >&2
		exit 1
	fi
	echo "  daemon cpu (user+system) during the run:"
	cpu_delta "$dir/cpu.before"
	show_metrics
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "online.sh: the daemon died" >&2
		cat "$dir/routingd.log" >&2
		exit 1
	fi
}

echo "(a) throughput"
run --users 1000 --senders 400 --pipeline 4 --warmup 3 --seconds 10 \
    online
echo "(b) latency"
run --users 10000 --procs 2 --senders 50 --rate 5000 --warmup 3 \
    --seconds 10 latency
if [ -s "$dir/routingd.log" ]; then
	echo "daemon log:"
	sed 's/^/  /' "$dir/routingd.log"
fi
