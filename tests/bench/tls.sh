#!/bin/sh
# tests/bench/tls.sh [seconds]: TLS handshakes per second of one API
# worker, full (openssl s_time -new) and resumed with a session ticket
# (-reuse), for an RSA 2048 and an ECDSA P-256 certificate, TLS 1.3 and
# 1.2.  Prints the client's connections/s (wall clock) and the worker's
# CPU seconds over the run, hence handshakes per second of worker CPU,
# and how many of them resumed (routingd_tls_handshakes_total).  s_time
# -reuse resumes TLS 1.2 only (it takes the session before a TLS 1.3
# ticket arrives), so the py1_3 rows measure TLS 1.3 with a Python client
# that reads one answer per connection (GET /healthz) in both modes.
# Needs the openssl command; starts ./src/routingd on 127.0.0.1:18092.

set -eu
secs=${1:-10}
[ -x ./src/routingd ] || { echo "${0##*/}: build first" >&2; exit 1; }
dir=$(mktemp -d /var/tmp/rtd-tlsbench.XXXXXX)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null; fi; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

cpu() {		# utime + stime of pid $1, in clock ticks (the fields
		# after the command name, which may hold spaces)
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

resumed() {	# routingd_tls_handshakes_total{kind="resumed"}
	curl -sk https://127.0.0.1:18092/metrics |
	    awk '$1 == "routingd_tls_handshakes_total{kind=\"resumed\"}" {
		print $2 }'
}

pyclient() {	# pyclient new|reuse SECS: TLS 1.3 connections, each with
		# one GET /healthz (TLS 1.3 tickets arrive after the
		# handshake, which s_time -reuse does not wait for)
	python3 - "$1" "$2" <<'PY'
import socket, ssl, sys, time
mode, secs = sys.argv[1], float(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
sess, n, end = None, 0, time.monotonic() + secs
while time.monotonic() < end:
    raw = socket.create_connection(("127.0.0.1", 18092))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, session=sess)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n")
    while s.recv(4096):
        pass
    if mode == "reuse":
        sess = s.session
    s.close()
    n += 1
print(n)
PY
}

run() {		# run ALG: start the daemon with that certificate, measure
	case $1 in
	rsa)	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/k.pem" \
		    -out "$dir/c.pem" -days 2 -subj /CN=127.0.0.1 2>/dev/null ;;
	ecdsa)	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$dir/k.pem" -out "$dir/c.pem" -days 2 \
		    -subj /CN=127.0.0.1 2>/dev/null ;;
	esac
	cat > "$dir/routingd.conf" <<CONF
api_listen = 127.0.0.1:18092
ws_listen = 127.0.0.1:18093
data_dir = $dir/data
control_socket = $dir/ctl.sock
api_workers = 1
ws_workers = 1
log_level = warning
tls_cert = $dir/c.pem
tls_key = $dir/k.pem
CONF
	./src/routingd -d -f "$dir/routingd.conf" 2>"$dir/routingd.log" &
	pid=$!
	i=0
	until curl -skf https://127.0.0.1:18092/readyz >/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null ||
		    { cat "$dir/routingd.log" >&2; exit 1; }
		sleep 0.1
	done
	api=$(ps -o pid= -o args= --ppid "$pid" |
	    awk '/routingd: api/ { print $1 }')
	hz=$(getconf CLK_TCK)
	for v in tls1_3 tls1_2 py1_3; do
		for mode in new reuse; do
			r0=$(resumed)
			c0=$(cpu "$api")
			if [ $v = py1_3 ]; then
				n=$(pyclient $mode "$secs")
			else
				n=$(openssl s_time -connect 127.0.0.1:18092 \
				    -$v -$mode -time "$secs" 2>/dev/null | awk \
				    '/connections in [0-9.]+s/ { print $1; exit }')
			fi
			c1=$(cpu "$api")
			r1=$(resumed)
			awk -v a="$1" -v v="$v" -v m="$mode" -v n="$n" \
			    -v r="$((r1 - r0))" \
			    -v s="$secs" -v c="$((c1 - c0))" -v hz="$hz" 'BEGIN {
				cs = c / hz
				printf "%-5s %-6s %-5s %6d conns (%6d resumed) " \
				    "%6.0f/s wall, worker %5.2f s CPU: " \
				    "%6.0f/s of its CPU\n", a, v, m, n, r,
				    n / s, cs, (cs > 0 ? n / cs : 0) }'
		done
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

run rsa
run ecdsa
