#!/usr/bin/env bash
# `make demo [BACKEND=model|rtl]`: real HTTP traffic from a client network namespace through the
# anypoint-ctl daemon to three real servers, each in its own namespace:
#
#   client 10.77.0.2 --- br0 --- tap0 = port 0 [anypoint-ctl run] port 1 = tap1 --- br1 --- servers 10.77.1.11-13
#
# Everything lives in namespaces this script creates (named apd<pid>-*) and removes on exit.
set -euo pipefail
BACKEND=${1:-model}
BIN=${BIN:-target/release/anypoint-ctl}
if [ "$(id -u)" -ne 0 ]; then
  echo "make demo needs root: it creates network namespaces, veth pairs and TAP devices." >&2
  echo "Run it as root (sudo make demo), or replay a capture instead: make demo-replay" >&2
  exit 1
fi

P=apd$$
DIR=$(mktemp -d)
SOCK=$DIR/anypoint.sock
VIP=10.77.0.100
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in sw cl s0 s1 s2; do ip netns del "$P-$ns" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ctl() { "$BIN" "$@" --socket "$SOCK"; }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "namespaces: client, switch, three servers"
for ns in sw cl s0 s1 s2; do ip netns add "$P-$ns"; ip -n "$P-$ns" link set lo up; done
for br in br0 br1; do ip -n "$P-sw" link add $br type bridge; ip -n "$P-sw" link set $br up; done
ip -n "$P-sw" link add c type veth peer name eth0 netns "$P-cl"
ip -n "$P-sw" link set c master br0 up
ip -n "$P-cl" addr add 10.77.0.2/24 dev eth0
ip -n "$P-cl" link set eth0 up
for i in 0 1 2; do
  ip -n "$P-sw" link add "s$i" type veth peer name eth0 netns "$P-s$i"
  ip -n "$P-sw" link set "s$i" master br1 up
  ip -n "$P-s$i" addr add "10.77.1.1$((i + 1))/24" dev eth0
  ip -n "$P-s$i" link set eth0 up
  ip -n "$P-s$i" route add default via 10.77.1.1
  mkdir -p "$DIR/www$i"
  echo "server-$i" >"$DIR/www$i/id"
  head -c 1048576 /dev/zero >"$DIR/www$i/big"
  # Not through in_ns: $! must be the server itself (ip netns exec execs it) for cleanup to stop it.
  ip netns exec "$P-s$i" python3 -m http.server 8080 --bind "10.77.1.1$((i + 1))" --directory "$DIR/www$i" \
    >/dev/null 2>&1 &
  PIDS+=($!)
done

cat >"$DIR/cluster.toml" <<EOF
[timeouts]
tcp = 60                      # idle connections leave the table after a minute

[[port]]                      # towards the client: the switch is 10.77.0.1 and answers ARP for the VIP
id = 0
mac = "02:00:00:00:00:10"
addr = "10.77.0.1/24"
next_hop = "10.77.0.2"        # replies to peers go here (MAC resolved by ARP)

[[port]]                      # towards the servers, whose gateway is 10.77.1.1
id = 1
mac = "02:00:00:00:00:11"
addr = "10.77.1.1/24"

[[service]]
name = "web"
vip = "$VIP"
port = 80
proto = "tcp"
policy = "maglev"
members = [                   # no MACs: the daemon resolves them by ARP
  { addr = "10.77.1.11", port = 8080, out_port = 1, weight = 1 },
  { addr = "10.77.1.12", port = 8080, out_port = 1, weight = 1 },
  { addr = "10.77.1.13", port = 8080, out_port = 1, weight = 2 },
]
EOF

step "daemon: anypoint-ctl run --backend $BACKEND"
ip netns exec "$P-sw" "$BIN" run --backend "$BACKEND" --config "$DIR/cluster.toml" --socket "$SOCK" \
  --port 0=tap:tap0 --port 1=tap:tap1 >/dev/null 2>"$DIR/daemon.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$DIR/daemon.log"; exit 1; }
ip -n "$P-sw" link set tap0 master br0
ip -n "$P-sw" link set tap1 master br1
for _ in $(seq 100); do
  ctl member list web --json | grep -q '"mac": null' || break
  sleep 0.1
done
for i in 0 1 2; do
  for _ in $(seq 50); do in_ns "s$i" curl -sf -o /dev/null "http://10.77.1.1$((i + 1)):8080/id" && break; sleep 0.1; done
done
ctl service list
ctl member list web

spread() { # $1 requests to the VIP; prints how many each server answered
  local urls=()
  for _ in $(seq "$1"); do urls+=("http://$VIP/id"); done
  in_ns cl curl -sS --fail --max-time 60 -H 'Connection: close' "${urls[@]}" | sort | uniq -c |
    awk -v n="$1" '{ printf "  %-10s %4d requests (%4.1f%%)\n", $2, $1, 100 * $1 / n }'
}

step "ping the VIP"
in_ns cl ping -c 2 -i 0.2 -W 2 $VIP | grep -E 'bytes from|packet loss'

step "300 HTTP requests from 10.77.0.2 to http://$VIP/ (weights 1:1:2)"
spread 300
ctl member list web

step "a slow 1 MiB download, then its member is drained while it runs"
in_ns cl curl -sS --fail --limit-rate 256k -o "$DIR/big.out" "http://$VIP/big" &
DL=$!
sleep 1
PORT=$(in_ns cl ss -Htn state established dst $VIP | awk '{ split($3, a, ":"); print a[2]; exit }')
MEMBER=$(ctl conn list --json | python3 -c "
import json, sys
print(next(c['member'] for c in json.load(sys.stdin)['connections'] if c['peer'] == '10.77.0.2:$PORT'))")
echo "download from port $PORT is on member $MEMBER: anypoint-ctl member drain web $MEMBER"
ctl member drain web "$MEMBER"
ctl member list web
wait $DL
echo "download finished after the drain: $(stat -c %s "$DIR/big.out") bytes, none lost"

step "100 more requests: none to the drained member"
spread 100

step "anypoint-ctl stats"
ctl stats
