# Sourced by the bench/lab-*.sh scripts: builds headroom and headroom-lab into a temporary
# directory ($out, removed on exit with the lab the script started, $lab_pid), sets $hr and $URL
# (the lab's address on 127.0.0.1:$PORT), and defines field FILE EXPR, which prints a Python
# expression over the JSON file's d.
cd "$(dirname "$0")/.."
URL="http://127.0.0.1:$PORT"
out=$(mktemp -d)
lab_pid=
cleanup() { [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT
go build -o "$out/" ./cmd/headroom ./cmd/headroom-lab   # headroom lab runs headroom-lab
hr="$out/headroom"
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }
