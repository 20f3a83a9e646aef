# tests/bench/lib.sh: shared by the benchmark scripts (sourced, not run).
#
# bench_need TOOL: unless ./src/routingd and TOOL (bench/routingd-bench,
# built by make) are there, say so and exit 1.
#
# bench_start NAME [key = value lines on stdin]: start ./src/routingd on
# loopback ports 18082/18083 with a fresh data_dir under /var/tmp (a real
# disk: every commit is fsync'd), rate limiting off, the keys given on
# stdin added; wait for /readyz.  Sets $dir (removed on exit) and $pid
# (killed on exit).

bench_need() {
	for f in ./src/routingd "$1"; do
		[ -x "$f" ] && continue
		echo "${0##*/}: $f is missing: run make first" >&2
		exit 1
	done
}

bench_start() {
	dir=$(mktemp -d "/var/tmp/$1.XXXXXX")
	pid=
	# (kill and wait may fail, the daemon being gone: under set -e
	# that would end the cleanup before the rm)
	trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :; fi; rm -rf "$dir"' EXIT
	trap 'exit 130' INT TERM
	{
		cat <<CONF
api_listen = 127.0.0.1:18082
ws_listen = 127.0.0.1:18083
data_dir = $dir/data
control_socket = $dir/ctl.sock
rate_limit_per_user = 0
queue_max_messages = 10000000
max_clients = 20000
log_level = warning
CONF
		cat
	} > "$dir/routingd.conf"
	./src/routingd -d -f "$dir/routingd.conf" 2>"$dir/routingd.log" &
	pid=$!
	i=0
	until curl -sf http://127.0.0.1:18082/readyz >/dev/null; do
		i=$((i + 1))
		if [ $i -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "$1: the daemon did not get ready" >&2
			cat "$dir/routingd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

# bench_metric NAME: the value of one /metrics sample.
bench_metric() {
	curl -s http://127.0.0.1:18082/metrics |
	    awk -v m="$1" '$1 == m { print $2 }'
}
