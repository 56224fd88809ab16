#!/bin/bash
# `aicert runs`, `aicert status` and `aicert quote` where no aicertd answers: --help, usage
# errors (exit 2, one line naming the problem, nothing contacted), and "no aicertd at SOCKET
# (is it running?)" with exit 1 for a socket path that does not exist, a stale socket nobody
# listens on and a path that is not a socket, named by --socket or by $AICERT_SOCKET. The verbs
# against a running aicertd are in 90-aicertd.sh.
. "$(dirname "$0")/../lib/common.sh"
A=$B/aicert
need_built aicert
need_cmd python3
W=$(mktemp -d /tmp/aicert-verbs.XXXXXX)
trap 'rm -rf "$W"' EXIT
run() {
	"$@" > "$W/out" 2> "$W/err" < /dev/null
	rc=$?
}
errs() { head -c 300 "$W/err" | tr '\n' '|'; }

# --- --help ---
for verb in runs status quote; do
	run "$A" "$verb" --help
	if [ $rc = 0 ] && grep -q "^Usage: aicert $verb" "$W/out" && [ ! -s "$W/err" ]; then
		ok "aicert $verb --help prints its usage on stdout and exits 0"
	else
		nok "aicert $verb --help: exit $rc, stdout $(head -1 "$W/out"), stderr $(errs)"
	fi
	# every option the verb's usage shows, it accepts: none is "unrecognized"
	shown=$(grep -oE -- '--[a-z]+' "$W/out" | sort -u) bad=""
	for o in $shown; do
		run "$A" "$verb" "$o" x --socket "$W/none.sock"
		grep -q "unrecognized option '$o'" "$W/err" && bad="$bad $o"
	done
	[ -n "$shown" ] && [ -z "$bad" ] && ok "aicert $verb accepts the $(echo $shown | wc -w) options its --help shows" ||
		nok "aicert $verb --help shows options it does not accept:${bad:- none shown}"
done

# --- usage errors: exit 2, nothing asked (the socket would answer "no aicertd") ---
usage_err() { # name expected-text args...
	local name=$1 want=$2
	shift 2
	run "$A" "$@" --socket "$W/none.sock"
	if [ $rc = 2 ] && grep -q -- "$want" "$W/err" && ! grep -q 'no aicertd' "$W/err" &&
		[ ! -s "$W/out" ]; then
		ok "$name: exit 2, '$(head -1 "$W/err")'"
	else
		nok "$name: exit $rc (want 2 and '$want'), stderr $(errs)"
	fi
}
usage_err "runs with an unknown option" "unrecognized option '--bogus'" runs --bogus
usage_err "runs with an argument" "unexpected argument 'extra'" runs extra
usage_err "runs --fetch without -o" "go together" runs --fetch 0123abcd
usage_err "runs -o without --fetch" "go together" runs -o "$W/b"
usage_err "runs --fetch with --json" "one or the other" runs --json --fetch x -o "$W/b"
usage_err "runs --nonce (quote's option)" "--nonce is not an option of aicert runs" runs --nonce 00
usage_err "status --fetch" "--fetch is not an option of aicert status" status --fetch x
usage_err "status -o" "--out is not an option of aicert status" status -o "$W/b"
usage_err "quote without --nonce" "--nonce HEX and -o DIR are needed" quote -o "$W/q"
usage_err "quote without -o" "--nonce HEX and -o DIR are needed" quote --nonce 00ff
usage_err "quote --json" "--json is not an option of aicert quote" quote --json --nonce 00 -o "$W/q"
for n in 0 0g "" 123 "$(printf '%0130d' 0)"; do
	usage_err "quote --nonce '${n:0:12}'" "--nonce: 1 to 64 bytes" quote --nonce "$n" -o "$W/q"
done
[ ! -e "$W/q" ] && [ ! -e "$W/b" ] && ok "no usage error created an output directory" ||
	nok "a usage error left $(ls "$W")"

# --- no daemon ---
# the three kinds of "nothing answers": no file, a socket whose daemon is gone, not a socket
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); s.close()' \
	"$W/stale.sock" || nok "cannot make a stale socket"
echo "not a socket" > "$W/file.sock"
nodaemon() { # name socket args... (the socket named by --socket)
	local name=$1 sock=$2
	shift 2
	run "$A" "$@" --socket "$sock"
	if [ $rc = 1 ] && [ "$(head -1 "$W/err")" = "aicert: no aicertd at $sock (is it running?)" ] &&
		[ ! -s "$W/out" ]; then
		ok "$name: exit 1, '$(head -1 "$W/err")'"
	else
		nok "$name: exit $rc (want 1 and 'no aicertd at $sock'), stderr $(errs), stdout $(head -c 100 "$W/out")"
	fi
}
for s in "$W/none.sock" "$W/stale.sock" "$W/file.sock"; do
	k=$(basename "$s" .sock)
	nodaemon "runs, $k socket" "$s" runs
	nodaemon "runs --json, $k socket" "$s" runs --json
	nodaemon "status, $k socket" "$s" status
	nodaemon "runs --fetch, $k socket" "$s" runs --fetch 0123abcd -o "$W/fetched"
	nodaemon "quote, $k socket" "$s" quote --nonce 00ff -o "$W/quoted"
done
[ ! -e "$W/fetched" ] && [ ! -e "$W/quoted" ] && ok "no output directory is made when nothing answers" ||
	nok "an output directory was made without a daemon: $(ls "$W")"
[ "$(cat "$W/file.sock")" = "not a socket" ] && ok "a file at the socket path is left as it was" ||
	nok "the file at the socket path changed"

# $AICERT_SOCKET names the socket when --socket does not; --socket wins over it
AICERT_SOCKET=$W/stale.sock run "$A" status
[ $rc = 1 ] && grep -qF "no aicertd at $W/stale.sock" "$W/err" &&
	ok "\$AICERT_SOCKET names the socket" || nok "\$AICERT_SOCKET: exit $rc, stderr $(errs)"
AICERT_SOCKET=$W/stale.sock run "$A" runs --socket "$W/none.sock"
[ $rc = 1 ] && grep -qF "no aicertd at $W/none.sock" "$W/err" &&
	ok "--socket wins over \$AICERT_SOCKET" || nok "--socket and \$AICERT_SOCKET: exit $rc, stderr $(errs)"
if [ ! -e /run/aicert/aicertd.sock ]; then
	AICERT_SOCKET= run "$A" status
	[ $rc = 1 ] && grep -qF "no aicertd at /run/aicert/aicertd.sock" "$W/err" &&
		ok "without either, the default socket /run/aicert/aicertd.sock is asked" ||
		nok "the default socket: exit $rc, stderr $(errs)"
fi

# an output directory that is not empty is refused before aicertd is asked
mkdir "$W/full" && echo x > "$W/full/keep"
run "$A" quote --nonce 00ff -o "$W/full" --socket "$W/none.sock"
[ $rc = 1 ] && grep -q "is not empty" "$W/err" && ! grep -q 'no aicertd' "$W/err" &&
	[ "$(cat "$W/full/keep")" = x ] && ok "quote -o a non-empty directory: exit 1, '$(head -1 "$W/err")'" ||
	nok "quote -o a non-empty directory: exit $rc, stderr $(errs)"
run "$A" runs --fetch 0123abcd -o "$W/full/keep" --socket "$W/none.sock"
[ $rc = 1 ] && grep -q "is not a directory" "$W/err" &&
	ok "runs --fetch -o a file: exit 1, '$(head -1 "$W/err")'" ||
	nok "runs --fetch -o a file: exit $rc, stderr $(errs)"

[ $fails = 0 ]
