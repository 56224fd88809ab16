#!/bin/bash
# tests/lib/swtpm.sh - source it, then `swtpm_start`: a fresh swtpm (TPM 2.0) on a free
# 127.0.0.1 port pair in a temporary directory, started up with tpm2_startup -c.
# Exports SWTPM_PORT, SWTPM_DIR, TPM2TOOLS_TCTI and AICERT_TCTI ("swtpm:host=127.0.0.1,port=N").
# swtpm_stop (also run from an EXIT trap, chained to any trap already set) kills it and removes
# the directory. Returns 77 with "SKIPPED: ..." on stdout when swtpm or tpm2-tools are missing.

swtpm_start() {
	local p t
	for t in swtpm tpm2_startup; do
		if ! command -v "$t" > /dev/null; then
			echo "SKIPPED: $t is not installed (apt-get install swtpm tpm2-tools)"
			return 77
		fi
	done
	SWTPM_DIR=$(mktemp -d /tmp/aicert-swtpm.XXXXXX) || return 1
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		# both ports (command and control) must be free
		if (exec 3<> /dev/tcp/127.0.0.1/$p) 2> /dev/null ||
			(exec 3<> /dev/tcp/127.0.0.1/$((p + 1))) 2> /dev/null; then
			p=
			continue
		fi
		if swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
			--server type=tcp,port=$p,bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((p + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init --daemon --pid file="$SWTPM_DIR/swtpm.pid" \
			--log file="$SWTPM_DIR/swtpm.log" 2>> "$SWTPM_DIR/start.err"; then
			break
		fi
		p=
	done
	if [ -z "$p" ]; then
		echo "swtpm_start: swtpm did not start: $(tail -1 "$SWTPM_DIR/start.err")" >&2
		return 1
	fi
	SWTPM_PORT=$p
	export SWTPM_PORT SWTPM_DIR
	export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$p"
	export AICERT_TCTI="$TPM2TOOLS_TCTI"
	_swtpm_prev_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
	# shellcheck disable=SC2064
	trap "swtpm_stop; $_swtpm_prev_trap" EXIT
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		tpm2_startup -c 2> /dev/null && return 0
		sleep 0.2
	done
	echo "swtpm_start: tpm2_startup failed on $TPM2TOOLS_TCTI" >&2
	return 1
}

swtpm_stop() {
	local pid
	[ -n "${SWTPM_DIR:-}" ] && [ -d "$SWTPM_DIR" ] || return 0
	pid=$(cat "$SWTPM_DIR/swtpm.pid" 2> /dev/null)
	if [ -n "$pid" ]; then
		kill "$pid" 2> /dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2> /dev/null || break
			sleep 0.1
		done
	fi
	rm -rf "$SWTPM_DIR"
	SWTPM_DIR=
}
