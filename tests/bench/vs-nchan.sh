#!/bin/sh
# tests/bench/vs-nchan.sh: routingd and nchan side by side, same generator
# (bench/routingd-bench), same run.
#
#   [ROW_SECONDS=S] tests/bench/vs-nchan.sh
#
# It needs nginx and its nchan module: when they are missing and it runs
# as root it installs them from Debian (apt-get install nginx-light
# libnginx-mod-nchan, and stops the nginx service the package starts);
# otherwise it names the packages and exits.  It writes an nginx configuration under a fresh directory
# of /var/tmp (2 worker processes, 127.0.0.1:18190, publish with POST
# /pub?id=CHANNEL, subscribe with a WebSocket at /sub/CHANNEL, each
# channel keeping its newest 100 messages for 10 s in nchan's 256 MiB of
# shared memory: a subscriber more than 100 messages behind would miss
# the older ones, which the generator counts as lost)
# and starts nginx with it, and starts the built daemon (src/routingd, 2
# API and 2 WS workers, rate_limit_per_user = 0, every commit fsync'd on
# the disk of /var/tmp: see lib.sh).  Then the same rows on both, one
# channel or user queue per user:
#   idle      18,000 idle WebSockets (fewer if the open files limit does
#             not allow them, and it says so): PSS KiB per connection,
#             summed over every process of each (first, on fresh
#             processes)
#   online    1,000 users, 8 senders x pipeline 8, 64 x 8, 200 x 4:
#             messages delivered per second
#   latency   10,000 users, 5,000 msgs/s: p50 and p99, send to frame
#   storm     10,000 WebSockets dropped at once, all reconnecting:
#             connects/s
# and prints a table with the ratio routingd / nchan of each row (for
# latency and memory, lower is better).  Every row runs ROW_SECONDS
# measured (5 by default, after 1 s of warm-up); for steadier numbers run
# longer, e.g. ROW_SECONDS=30.  routingd's rows acknowledge every message
# and answer each send after its commit is on disk; nchan has no tokens,
# no acknowledgements and no disk.  A measuring tool: run it by hand on a
# quiet machine (make first); CI does not.
set -eu
cd "$(dirname "$0")/../.."
secs=${ROW_SECONDS:-5}
bench=./bench/routingd-bench
ngport=18190
. ./tests/bench/lib.sh
bench_need "$bench"

nginx=$(command -v nginx || echo /usr/sbin/nginx)
vs_find_mod() {
	mod=
	for m in /usr/lib/nginx/modules/ngx_nchan_module.so \
	    /usr/share/nginx/modules/ngx_nchan_module.so; do
		[ -f "$m" ] && { mod=$m; break; }
	done
}
vs_find_mod
if { [ ! -x "$nginx" ] || [ -z "$mod" ]; } && [ "$(id -u)" -eq 0 ]; then
	echo "vs-nchan.sh: installing nginx-light libnginx-mod-nchan" >&2
	if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    nginx-light libnginx-mod-nchan 2>&1); then
		printf '%s\n' "$out" >&2
		echo "vs-nchan.sh: apt-get install failed" >&2
		exit 1
	fi
	# the package starts its own nginx on port 80; this script runs its own
	systemctl stop nginx 2>/dev/null || :
	nginx=$(command -v nginx || echo /usr/sbin/nginx)
	vs_find_mod
fi
if [ ! -x "$nginx" ] || [ -z "$mod" ]; then
	echo "vs-nchan.sh: needs nginx and its nchan module:" \
	    "apt-get install nginx-light libnginx-mod-nchan" >&2
	exit 1
fi

# Open files: 18,000 WebSockets need as many in the daemon's WS workers,
# nginx's workers and the generator (two processes here).
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || :
lim=$(ulimit -n)
idle=18000
if [ "$lim" != unlimited ] && [ "$lim" -lt 20000 ]; then
	idle=$(( (lim - 2000) / 1000 * 1000 ))
	[ "$idle" -lt 1000 ] && idle=1000
	echo "vs-nchan.sh: the open files limit is $lim: idle with $idle" \
	    "connections instead of 18,000"
fi

bench_start vs-nchan <<CONF
api_workers = 2
ws_workers = 2
CONF
secret=$dir/data/jwt.secret
ng=
# (each step may fail, nginx or the daemon being gone already: set -e
# must not end the cleanup half way)
trap 'if [ -n "$ng" ]; then kill "$ng" 2>/dev/null || :
	wait "$ng" 2>/dev/null || :; fi
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || :
	wait "$pid" 2>/dev/null || :; fi; rm -rf "$dir"' EXIT

mkdir -p "$dir/nginx/logs"
cat > "$dir/nginx/nginx.conf" <<CONF
load_module $mod;
daemon off;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events {
	worker_connections 20000;
}
http {
	access_log off;
	nchan_shared_memory_size 256m;
	keepalive_requests 1000000000;
	keepalive_time 1d;
	client_body_temp_path $dir/nginx/body;
	server {
		listen 127.0.0.1:$ngport;
		location = /pub {
			nchan_publisher;
			nchan_channel_id \$arg_id;
			nchan_message_buffer_length 100;
			nchan_message_timeout 10s;
		}
		location ~ ^/sub/(.+)\$ {
			nchan_subscriber websocket;
			nchan_channel_id \$1;
		}
	}
}
CONF
"$nginx" -c "$dir/nginx/nginx.conf" -p "$dir/nginx" 2>>"$dir/nginx/error.log" &
ng=$!
i=0
until curl -s -o /dev/null -X POST -d x "http://127.0.0.1:$ngport/pub?id=probe"; do
	i=$((i + 1))
	if [ $i -ge 50 ] || ! kill -0 "$ng" 2>/dev/null; then
		echo "vs-nchan.sh: nginx did not start" >&2
		cat "$dir/nginx/error.log" >&2
		exit 1
	fi
	sleep 0.1
done

# run NAME TARGET ARGS...: one run of the generator, its JSON in
# $dir/NAME.TARGET.json, one line of what it counted.
run() {
	name=$1 target=$2
	shift 2
	if [ "$target" = routingd ]; then
		set -- --secret-file "$secret" --api-port 18082 --ws-port 18083 \
		    --pid "$pid" "$@"
	else
		set -- --target nchan --port "$ngport" --pid "$ng" "$@"
	fi
	if ! "$bench" --json "$@" > "$dir/$name.$target.json" \
	    2> "$dir/$name.$target.err"; then
		echo "vs-nchan.sh: $target $name failed:" >&2
		cat "$dir/$name.$target.err" "$dir/routingd.log" \
		    "$dir/nginx/error.log" >&2
		exit 1
	fi
	python3 - "$dir/$name.$target.json" "$name" "$target" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
line = "  %-9s %-13s" % (sys.argv[3], sys.argv[2])
if "storm" in d:
    st = d["storm"]
    line += " %d reconnected in %.2f s: %.0f connects/s" % (
        st["reconnected"], st["seconds"], st["connects_per_s"])
elif "pss" in d:
    c = d["connections"]
    line += " %d of %d open, PSS %.2f KiB/conn over %d processes" % (
        c["opened"], d["parameters"]["users"],
        d["pss"]["kib_per_connection"], d["pss"]["processes"])
else:
    line += (" accepted/s %6.0f delivered/s %6.0f p50 %6.2f ms p99 %6.2f ms"
             " lost %d" % (d["accepted_per_s"], d["delivered_per_s"],
                           d["latency_us"]["p50"] / 1000,
                           d["latency_us"]["p99"] / 1000, d["lost"]))
    rate = d["parameters"]["rate"]
    if rate > 0 and d["accepted_per_s"] < 0.95 * rate:
        line += " (below the %.0f/s asked)" % rate
line += " errors %d" % d["errors_total"]
print(line)
PY
}
both() {
	name=$1
	shift
	run "$name" routingd "$@"
	run "$name" nchan "$@"
}

echo "routingd-bench, routingd (2 API + 2 WS workers) and nchan (2 nginx" \
    "workers), $secs s per row"
both idle --users "$idle" --procs 2 --seconds 1 --settle 2 idle
both online-8x8 --users 1000 --senders 8 --pipeline 8 --seconds "$secs" online
both online-64x8 --users 1000 --senders 64 --pipeline 8 --seconds "$secs" \
    online
both online-200x4 --users 1000 --senders 200 --pipeline 4 --seconds "$secs" \
    online
both latency --users 10000 --procs 2 --senders 50 --pipeline 8 \
    --rate 5000 --seconds "$secs" latency
both storm --users 10000 --procs 2 storm

python3 - "$dir" "$idle" <<'PY'
import json, sys
d, idle = sys.argv[1], int(sys.argv[2])
def get(name, target):
    return json.load(open("%s/%s.%s.json" % (d, name, target)))
rows = [
    ("online 8 x 8, 1,000 users (delivered/s)", "online-8x8",
     lambda j: j["delivered_per_s"]),
    ("online 64 x 8, 1,000 users (delivered/s)", "online-64x8",
     lambda j: j["delivered_per_s"]),
    ("online 200 x 4, 1,000 users (delivered/s)", "online-200x4",
     lambda j: j["delivered_per_s"]),
    ("latency 5,000/s, 10,000 users: p50 ms", "latency",
     lambda j: j["latency_us"]["p50"] / 1000),
    ("latency 5,000/s, 10,000 users: p99 ms", "latency",
     lambda j: j["latency_us"]["p99"] / 1000),
    ("idle %s WebSockets: PSS KiB/conn" % format(idle, ","), "idle",
     lambda j: j["pss"]["kib_per_connection"]),
    ("storm, 10,000 reconnecting (connects/s)", "storm",
     lambda j: j["storm"]["connects_per_s"]),
]
print()
print("| %-44s | %10s | %10s | %15s |" % ("row", "routingd", "nchan",
                                         "routingd/nchan"))
print("|%s|%s|%s|%s|" % ("-" * 46, "-" * 12, "-" * 12, "-" * 17))
for label, name, f in rows:
    r, n = f(get(name, "routingd")), f(get(name, "nchan"))
    fmt = "%10.0f" if r >= 100 else "%10.2f"
    print("| %-44s | %s | %s | %15s |" % (
        label, fmt % r, fmt % n, "%.2f" % (r / n) if n else "-"))
print()
print("Latency and memory: lower is better.  nchan: no tokens, no "
      "acknowledgements, messages in shared memory; routingd: every 202 "
      "after its fsync'd commit, every message acknowledged.")
PY
