#!/bin/sh
# tests/bench/push.sh: do durable accepts slow down when the push gateway
# is down?  Same daemon, same generator, one run, three phases.
#
#   tests/bench/push.sh [seconds] [conns] [pipeline] [users]
#
# Starts a small push gateway (Python, 127.0.0.1:18090, answering 200
# {"rejected":[]} to every push) and the built daemon (src/routingd, on
# 18082/18083, see lib.sh) with push_gateway_url pointing at it.  Each of
# the --users recipients (bench-0 ... bench-N-1) registers its device
# "default" with a push target, so that every accepted message writes a
# push job in its commit.  First a backlog: one message to every user in
# requests of 100 envelopes, and the time until every device was pushed
# (the push worker's pace).  Then bench/routingd-bench offline runs for
# [seconds] three times (its setup, not measured, first drains every
# user's queue: the messages of the phase before):
#   up:    the gateway answers (pushes are sent, one per device per
#          push_coalesce)
#   down:  the gateway is killed (every push attempt is refused at
#          connect, then retried with backoff)
#   hung:  a gateway that accepts connections and never answers (every
#          attempt waits for the push worker's 10 s timeout)
# and prints accepts/s of each (as the generator measured them), with the
# push counters.  A measuring tool: run it by hand on a quiet machine
# (make first); CI does not.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-10}; conns=${2:-200}; pipe=${3:-4}; users=${4:-1000}
. ./tests/bench/lib.sh
bench_need ./bench/routingd-bench
gw=
gateway() {	# gateway up|hung: (re)start the fake gateway on 18090
	[ -n "$gw" ] && { kill "$gw" 2>/dev/null; wait "$gw" 2>/dev/null || :; }
	/usr/bin/python3 - "$1" <<'PY' &
import http.server, socket, sys, time
if sys.argv[1] == "hung":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 18090))
    s.listen(64)
    held = []
    while True:
        held.append(s.accept()[0])
class G(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        # one write: a head and a body in two would meet Nagle and the
        # client's delayed ACK (40 ms a request)
        b = b'{"rejected":[]}'
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                         b"\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b))
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", 18090), G).serve_forever()
PY
	gw=$!
	sleep 0.5
}
gateway up
bench_start rtdpush <<CONF
push_gateway_url = http://127.0.0.1:18090/_matrix/push/v1/notify
CONF
trap 'kill "$gw" 2>/dev/null || :; if [ -n "$pid" ]; then
	kill "$pid" 2>/dev/null || :; wait "$pid" 2>/dev/null || :; fi
	rm -rf "$dir"' EXIT
ctl="./routingctl/routingctl -s $dir/ctl.sock"
i=0
while [ $i -lt "$users" ]; do
	tok=$($ctl token "bench-$i")
	curl -sf -o /dev/null -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: application/json' \
	    -d "{\"platform\":\"fcm\",\"pushToken\":\"bench-token-$i\",\"appId\":\"org.example.bench\"}" \
	    http://127.0.0.1:18082/api/devices
	i=$((i + 1))
done
backlog() {	# one message to each user at once: how fast are they pushed?
	atok=$($ctl token bench-sender)
	t0=$(date +%s.%N)
	i=0
	while [ $i -lt "$users" ]; do
		j=$i; body=
		while [ $j -lt $((i + 100)) ] && [ $j -lt "$users" ]; do
			body="$body${body:+,}{\"recipientId\":\"bench-$j\",\"encryptedData\":\"aGk=\"}"
			j=$((j + 1))
		done
		curl -sf -o /dev/null -H "Authorization: Bearer $atok" \
		    -H 'Content-Type: application/json' -d "[$body]" \
		    http://127.0.0.1:18082/api/send
		i=$j
	done
	n=0
	while [ "$(bench_metric routingd_push_sent_total)" -lt "$users" ] &&
	    [ $n -lt 600 ]; do
		sleep 0.1; n=$((n + 1))
	done
	t1=$(date +%s.%N)
	printf 'backlog: %s pushes (one per device) sent in %.2f s\n' \
	    "$(bench_metric routingd_push_sent_total)" \
	    "$(awk -v s="$t0" -v e="$t1" 'BEGIN { print e - s }')"
}
phase() {
	acc=$(./bench/routingd-bench --api-port 18082 --ws-port 18083 \
	    --secret-file "$dir/data/jwt.secret" --senders "$conns" \
	    --pipeline "$pipe" --users "$users" --warmup 0 --seconds "$secs" \
	    --json offline | sed 's/.*"accepted_per_s":\([0-9]*\).*/\1/')
	printf '%-5s accepts %8.0f/s  push sent %s failed %s retried %s outbox %s\n' \
	    "$1" "$acc" \
	    "$(bench_metric routingd_push_sent_total)" \
	    "$(bench_metric routingd_push_failed_total)" \
	    "$(bench_metric routingd_push_retried_total)" \
	    "$(bench_metric routingd_push_outbox_jobs)"
}
backlog
phase up
kill "$gw"; wait "$gw" 2>/dev/null || :; gw=
phase down
gateway hung
phase hung
