#!/bin/bash
# bench/hash.sh - SHA-256 throughput of the hash pool, and what the persistent cache saves.
#  1. A >= 1 GiB mixed dataset (4 x 192 MiB + 4,000 files of 1-128 KiB), read once so the page
#     cache holds it and the disk does not dominate.
#  2. `openssl speed -evp sha256` gives one core's throughput; the pool (-j nproc) should reach
#     >= 0.80 x nproc x that. Five rounds alternate one openssl speed run and one pool pass; the
#     verdict is the median of the rounds' ratios (bench/lib/paired.sh). sha256sum (xargs -P
#     nproc) is shown beside it.
#  3. With the persistent cache: a first pass fills it, a second pass over the unchanged data
#     must hash 0 bytes.
set -u
cd "$(dirname "$0")/.."
. bench/lib/paired.sh
B=${AICERT_BUILD:-$PWD/build}
N=$(nproc)
W=$(mktemp -d /var/tmp/aicert-bench-hash.XXXXXX)
trap 'rm -rf "$W"' EXIT
D=$W/data

# The helper links the build's archives; it falls back to the sources when they are not built.
if [ -f "$B/libtrace.a" ] && [ -f "$B/libaicert.a" ]; then
	objs=("$B/libtrace.a" "$B/libaicert.a")
else
	objs=(userspace/trace/hashpool.c userspace/trace/hashcache.c userspace/lib/log.c)
fi
cc -O2 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace -o "$W/hashbench" bench/hashbench.c \
	"${objs[@]}" $(pkg-config --libs openssl) -lpthread || {
	echo "bench hash: cannot build bench/hashbench.c"; exit 1; }

mkdir -p "$D/big" "$D/small"
for i in 1 2 3 4; do
	head -c $((192 << 20)) /dev/urandom > "$D/big/shard-$i.bin"
done
python3 - "$D/small" <<'PY'
import os, random, sys
random.seed(1)
blob = os.urandom(1 << 20)
for i in range(4000):
    n = random.randint(1 << 10, 128 << 10)
    off = random.randint(0, len(blob) - n)
    with open(os.path.join(sys.argv[1], "f%05d.dat" % i), "wb") as f:
        f.write(blob[off:off + n])
PY
bytes=$(du -sb "$D" | cut -f1)
files=$(find "$D" -type f | wc -l)
echo "dataset: $files files, $((bytes >> 20)) MiB"
find "$D" -type f -print0 | xargs -0 cat > /dev/null

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
# sha256_speed [OPTION...]: bytes/s of `openssl speed OPTION... -evp sha256` on 16 KiB blocks
sha256_speed() {
	openssl speed "$@" -evp sha256 -bytes 16384 2>/dev/null |
		awk '/^sha256/ {v = $NF; sub("k", "", v); print v * 1000}'
}
# A: nproc x one core of openssl speed (MB/s), B: one pass of the pool; taken in alternation
ROUNDS=5
speeds=() pools=() a=()
for _ in $(seq $ROUNDS); do
	speed=$(sha256_speed -seconds 1)
	[ -n "$speed" ] || { echo "bench hash: cannot parse openssl speed"; exit 1; }
	out=$("$W/hashbench" -j "$N" "$D") || { echo "bench hash: hashbench failed"; exit 1; }
	speeds+=("$speed")
	a+=("$(awk -v s="$speed" -v n="$N" 'BEGIN { print n * s / 1e6 }')")
	pools+=("$(echo "$out" | field mbps)")
done
speed=$(median "${speeds[@]}")
pool=$(median "${pools[@]}")
awk -v s="$speed" -v n="$N" 'BEGIN {
	printf "openssl speed -evp sha256 (16 KiB blocks): %.0f MB/s per core (median), x %d cores = %.0f MB/s\n",
		s / 1e6, n, n * s / 1e6 }'
echo "hash pool -j $N: ${pools[*]} MB/s ($ROUNDS passes; last: $out)"

t0=$(date +%s.%N)
find "$D" -type f -print0 | xargs -0 -P "$N" -n 256 sha256sum > /dev/null
t1=$(date +%s.%N)
awk -v b="$bytes" -v t0="$t0" -v t1="$t1" -v n="$N" 'BEGIN {
	printf "sha256sum (xargs -P %d): %.1f MB/s\n", n, b / (t1 - t0) / 1e6 }'
# On a shared machine the pool may not get nproc cores: show what one CPU-second of it hashes,
# and what `openssl speed -multi` gets from the same machine right now.
multi=$(sha256_speed -multi "$N" -seconds 3)
percpu=$(echo "$out" | field mbps_per_cpu)
awk -v c="$percpu" -v s="$speed" -v m="${multi:-0}" -v p="$pool" -v n="$N" 'BEGIN {
	printf "pool per CPU-second: %.0f MB/s = %.2f x one core of openssl speed\n", c, c * 1e6 / s
	if (m > 0)
		printf "openssl speed -multi %d now: %.0f MB/s; pool / that = %.2f\n", n, m / 1e6, p * 1e6 / m }'
pair_verdict ratio "bench hash" "pool MB/s against $N x openssl speed -evp sha256, alternating" 0.80 \
	"${a[@]}" -- "${pools[@]}"

first=$("$W/hashbench" -j "$N" --cache "$W/cache" "$D") || { echo "bench hash: hashbench failed"; exit 1; }
second=$("$W/hashbench" -j "$N" --cache "$W/cache" "$D") || { echo "bench hash: hashbench failed"; exit 1; }
echo "cache, first pass:  $first"
echo "cache, second pass: $second"
hashed=$(echo "$second" | field hashed)
hits=$(echo "$second" | field hits)
echo "bench hash-cache: second pass hashed $hashed bytes, $hits of $files files from the cache (target 0 bytes) $([ "$hashed" = 0 ] && echo PASS || echo MISS)"
