#!/usr/bin/env bash
# doctor --quick's capacity against a full sweep's, on the same targets and SLO:
#   1. nginx (the Debian package) serving a static file, started here on a free loopback port
#      with its own temporary config, stopped by its PID;
#   2. a server of known capacity (bench/workers: 4 workers × 10 ms = 400 req/s).
# For each it prints quick's maximum (and whether it is a lower bound), the sweep's, their
# ratio (target: within 25 %) and the time each took. The generator and the targets share this
# machine: where the generator is the limit, both say "lower bound".
# Usage: bench/doctor-quick.sh [NGINX-SLO] [WORKERS-SLO]
set -euo pipefail
cd "$(dirname "$0")/.."
nginx_slo=${1:-'p99<10ms'}
workers_slo=${2:-'p99<50ms'}
nginx=${NGINX:-/usr/sbin/nginx}
[ -x "$nginx" ] || { echo "nginx not found at $nginx (apt-get install nginx-light, or set NGINX)" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

go build -o "$tmp/headroom" ./cmd/headroom
go build -o "$tmp/workers" ./bench/workers

# nginx in the foreground (daemon off), every path under $tmp, one worker per core.
nport=$(freeport)
mkdir -p "$tmp/nginx/www" "$tmp/nginx/logs"
head -c 612 /dev/zero | tr '\0' 'x' >"$tmp/nginx/www/index.html" # the size of nginx's welcome page
chmod a+rx "$tmp" "$tmp/nginx" "$tmp/nginx/www" # run as root, nginx's workers read as nobody
chmod a+r "$tmp/nginx/www/index.html"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$nport;
		root $tmp/nginx/www;
	}
}
EOF
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx/stderr" &
pids+=($!)
nginx_pid=$!

wport=$(freeport)
"$tmp/workers" -addr "127.0.0.1:$wport" -c 4 -s 10ms &
pids+=($!)

for port in "$nport" "$wport"; do
	for _ in $(seq 50); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
		sleep 0.1
	done
done
kill -0 "$nginx_pid" || { echo "nginx did not start:" >&2; cat "$tmp/nginx/stderr" >&2; exit 3; }

seconds() { echo "$2 - $1" | bc; }

compare() { # NAME URL PATH SLO: each with its defaults (doctor --quick starts at 10 req/s, sweep at 100)
	local name=$1 url=$2 path=$3 slo=$4 t0 t1 t2 q qlb s slb
	t0=$(date +%s.%N)
	"$tmp/headroom" doctor "$url" --endpoints "$path" --quick --slo "$slo" \
		--otlp off --no-profiles --out "$tmp/$name-quick" >"$tmp/$name-quick.out" 2>"$tmp/$name-quick.err" ||
		tail -3 "$tmp/$name-quick.err" >&2 # exit 3 on an invalid steady run: the sweep is in the report all the same
	t1=$(date +%s.%N)
	"$tmp/headroom" sweep "$url$path" --slo "$slo" -q --out "$tmp/$name-sweep.json" >/dev/null 2>"$tmp/$name-sweep.err" ||
		tail -3 "$tmp/$name-sweep.err" >&2
	t2=$(date +%s.%N)
	q=$(jq '.endpoints[0].sweep.max_rps_under_slo' "$tmp/$name-quick/report.json")
	qlb=$(jq '.endpoints[0].sweep.max_is_lower_bound' "$tmp/$name-quick/report.json")
	s=$(jq '.max_rps_under_slo' "$tmp/$name-sweep.json")
	slb=$(jq '.max_is_lower_bound' "$tmp/$name-sweep.json")
	printf '%-8s %-10s quick max %8.0f req/s (lower bound: %-5s) in %5.1f s (whole doctor --quick) | sweep max %8.0f req/s (lower bound: %-5s) in %5.1f s | quick/sweep %.2f\n' \
		"$name" "$slo" "$q" "$qlb" "$(seconds "$t0" "$t1")" "$s" "$slb" "$(seconds "$t1" "$t2")" "$(echo "$q / $s" | bc -l)"
	jq -r '.endpoints[0].sweep.notes[]' "$tmp/$name-quick/report.json" | sed 's/^/         quick note: /'
	grep -E '^sweep .* (max|step)' "$tmp/$name-quick.err" | sed 's/^/         quick: /'
}

echo "doctor --quick vs sweep, $(nproc) cores, $(date -u +%FT%TZ)"
compare nginx "http://127.0.0.1:$nport" /index.html "$nginx_slo"
compare workers "http://127.0.0.1:$wport" / "$workers_slo"
