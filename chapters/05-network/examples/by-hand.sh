#!/usr/bin/env bash
# Chapter 5 by hand: what `attach` and the port rules do for one container,
# as `ip`, `sysctl` and `iptables` commands, then a fetch through the
# published port, then the teardown in reverse.
#
# It never touches your machine's network: it re-runs itself in a network
# namespace of its own (`unshare --net`), which plays the host, and the
# "container" is a second namespace with busybox httpd in it. Run it as root
# (or in the lab VM):   bash chapters/05-network/examples/by-hand.sh
set -euo pipefail
[ -n "${BERTH_BY_HAND_TRACE:-}" ] && set -x

if [ "${BERTH_BY_HAND_INSIDE:-}" != 1 ]; then
    exec unshare --net env BERTH_BY_HAND_INSIDE=1 bash "$0" "$@"
fi

CTR=berth-by-hand-$$           # the container's network namespace
WWW=$(mktemp -d)               # what its web server serves
echo "hello from the container" > "$WWW/index.html"
PID=

teardown() {
    set +e
    echo "== teardown"
    # ANCHOR: teardown
    # The container's rules, then the network's, then the links.
    iptables -t nat -D BERTH-PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
    iptables -t nat -D BERTH-OUTPUT -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
    iptables -t nat -D BERTH-POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
    iptables -t filter -D BERTH-FORWARD -d 172.17.0.2/32 ! -i berth0 -o berth0 -p tcp -m tcp --dport 80 -j ACCEPT
    iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j BERTH-PREROUTING
    iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j BERTH-OUTPUT
    iptables -t nat -D POSTROUTING -j BERTH-POSTROUTING
    iptables -t filter -D FORWARD -j BERTH-FORWARD
    iptables -t filter -D INPUT -j BERTH-INPUT
    for chain in BERTH-PREROUTING BERTH-OUTPUT BERTH-POSTROUTING; do
        iptables -t nat -F $chain && iptables -t nat -X $chain
    done
    for chain in BERTH-FORWARD BERTH-ISOLATION-1 BERTH-ISOLATION-2 BERTH-INPUT; do
        iptables -t filter -F $chain && iptables -t filter -X $chain
    done
    ip link del bv-by-hand        # deletes its peer, eth0, too
    ip link del berth0
    # ANCHOR_END: teardown
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    ip netns del "$CTR" 2>/dev/null
    rm -rf "$WWW"
}
trap teardown EXIT

ip link set lo up               # the stand-in host's own loopback

# The container: a network namespace with a web server listening in it.
ip netns add "$CTR"
ip netns exec "$CTR" busybox httpd -f -p 80 -h "$WWW" &
PID=$!

echo "== the network"
# ANCHOR: network
# The bridge, with the gateway's address, and forwarding on.
ip link add berth0 type bridge
ip addr add 172.17.0.1/16 dev berth0
ip link set berth0 up
sysctl -qw net.ipv4.ip_forward=1
# 127.0.0.1:PORT on the host may be sent to the bridge (see "route_localnet").
sysctl -qw net.ipv4.conf.berth0.route_localnet=1

# berth's chains, one jump from each built-in chain.
iptables -t nat -N BERTH-PREROUTING
iptables -t nat -N BERTH-OUTPUT
iptables -t nat -N BERTH-POSTROUTING
iptables -t filter -N BERTH-FORWARD
iptables -t filter -N BERTH-ISOLATION-1
iptables -t filter -N BERTH-ISOLATION-2
iptables -t filter -N BERTH-INPUT
iptables -t nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -j BERTH-PREROUTING
iptables -t nat -I OUTPUT 1 -m addrtype --dst-type LOCAL -j BERTH-OUTPUT
iptables -t nat -I POSTROUTING 1 -j BERTH-POSTROUTING
iptables -t filter -I FORWARD 1 -j BERTH-FORWARD
iptables -t filter -I INPUT 1 -j BERTH-INPUT

# The network's rules: isolation from other berth bridges checked first;
# masquerade what leaves the subnet, and what the host sends from 127.0.0.1
# into the bridge; let the containers' traffic through FORWARD; and drop
# what a container sends to the host's 127.0.0.0/8.
iptables -t filter -A BERTH-FORWARD -j BERTH-ISOLATION-1
iptables -t nat -A BERTH-POSTROUTING -s 172.17.0.0/16 ! -o berth0 -j MASQUERADE
iptables -t nat -A BERTH-POSTROUTING -s 127.0.0.0/8 -o berth0 -j MASQUERADE
iptables -t filter -A BERTH-FORWARD -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -t filter -A BERTH-FORWARD -i berth0 ! -o berth0 -j ACCEPT
iptables -t filter -A BERTH-FORWARD -i berth0 -o berth0 -j ACCEPT
iptables -t filter -A BERTH-INPUT -d 127.0.0.0/8 -i berth0 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
# Packets from this bridge to another berth bridge are dropped (stage 1, stage 2).
iptables -t filter -A BERTH-ISOLATION-1 -i berth0 ! -o berth0 -j BERTH-ISOLATION-2
iptables -t filter -A BERTH-ISOLATION-2 -o berth0 -j DROP
# ANCHOR_END: network

echo "== the container's end"
# ANCHOR: attach
# A veth pair: one end on the bridge, the other born in the container as
# eth0 (for a real container: `netns /proc/PID/ns/net` and `nsenter --net=...`).
ip link add bv-by-hand type veth peer name eth0 netns "$CTR"
ip link set bv-by-hand master berth0 up
# Hairpin: the bridge may send a frame back out of the port it came in by,
# so the container can reach itself through the host's published port.
ip link set bv-by-hand type bridge_slave hairpin on
ip netns exec "$CTR" sh -c '
    ip link set lo up
    ip addr add 172.17.0.2/16 dev eth0
    ip link set eth0 up
    ip route add default via 172.17.0.1 dev eth0'
# ANCHOR_END: attach

echo "== -p 8080:80"
# ANCHOR: publish
# Packets for a host address, port 8080, go to the container's port 80:
# from elsewhere (PREROUTING) and from the host itself (OUTPUT). The
# container reaching itself through the host is masqueraded (hairpin), and
# FORWARD lets the rewritten packets in.
iptables -t nat -A BERTH-PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
iptables -t nat -A BERTH-OUTPUT -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
iptables -t nat -A BERTH-POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
iptables -t filter -A BERTH-FORWARD -d 172.17.0.2/32 ! -i berth0 -o berth0 -p tcp -m tcp --dport 80 -j ACCEPT
# ANCHOR_END: publish

echo "== fetch"
# ANCHOR: fetch
busybox wget -q -O - http://127.0.0.1:8080/      # the host, through the published port
busybox wget -q -O - http://172.17.0.2:80/       # the host, straight to the container
ip netns exec "$CTR" busybox wget -q -O - http://172.17.0.1:8080/   # the container, hairpin
# ANCHOR_END: fetch
