#!/bin/bash
# scripts/capture-quote-fixtures.sh - capture golden TPM2 quotes from a real swtpm.
#
#   scripts/capture-quote-fixtures.sh [OUTDIR]     (default tests/fixtures/quote)
#
# Writes one directory per signing scheme (ecc, ecc-sha384, rsa, rsapss), each with the files
# tests/unit/test_quote.c reads:
#   quote.msg quote.sig   tpm2_quote -m / -s (TPMS_ATTEST / TPMT_SIGNATURE, marshalled)
#   ak.pub.pem            the AK public key (tpm2_readpublic -f pem)
#   pcrs.bin              the selected PCR values in selection order (tpm2_pcrread -o)
#   pcrs.out              tpm2_quote -o (serialized, for tpm2_checkquote -f)
#   qualifying.hex        the qualifying data given to -q
#   selection.txt         the PCR selection given to -l (sha256:10,15)
#   hash.txt              the scheme's hash algorithm (sha256 / sha384)
#   attest.yaml           tpm2_print -t TPMS_ATTEST of quote.msg (the expected decode)
# and ca/ with a test CA, a certificate for the ecc AK signed by it, a second CA and a
# certificate for the same AK signed by that second CA, and a certificate from the first CA for
# another key. other-ak/ holds the public key of a second AK. Every quote is checked with
# tpm2_checkquote before the script succeeds. Needs swtpm, tpm2-tools and openssl.
set -euo pipefail

OUT=${1:-tests/fixtures/quote}
# fuzz_quote's seeds: a 2-byte big-endian length, quote.msg, quote.sig
CORPUS=${CORPUS:-tests/fuzz/corpus/quote}
PCRS=sha256:10,15
QUAL=${QUAL:-$(openssl rand -hex 32)}

for t in swtpm tpm2_startup tpm2_quote tpm2_checkquote tpm2_print openssl ss; do
	command -v "$t" > /dev/null || { echo "capture-quote-fixtures: $t not found" >&2; exit 77; }
done

WORK=$(mktemp -d)
SWTPM_PID=
cleanup() {
	if [ -n "$SWTPM_PID" ]; then kill "$SWTPM_PID" 2> /dev/null || true; wait "$SWTPM_PID" 2> /dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! ss -ltn | awk '{print $4}' | grep -qE "[:.]($p|$((p + 1)))\$"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

PORT=$(free_port)
mkdir -p "$WORK/state"
swtpm socket --tpm2 --server type=tcp,port="$PORT" --ctrl type=tcp,port=$((PORT + 1)) \
	--tpmstate dir="$WORK/state" --flags not-need-init,startup-clear &
SWTPM_PID=$!
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"
for _ in $(seq 50); do
	tpm2_getrandom 4 > /dev/null 2>&1 && break
	sleep 0.1
done

cd "$WORK"
# No resource manager sits between the tools and swtpm: flush what each tool leaves loaded.
flush() { tpm2_flushcontext -t; tpm2_flushcontext -s; }
tpm2_createprimary -Q -C o -g sha256 -G ecc256 -c primary.ctx
flush
# Something non-trivial in both quoted PCRs (10 is IMA's; swtpm leaves it zero).
tpm2_pcrextend -Q 10:sha256=$(printf 'aicert fixture pcr10' | sha256sum | cut -d' ' -f1)
tpm2_pcrextend -Q 15:sha256=$(printf 'aicert fixture pcr15' | sha256sum | cut -d' ' -f1)

AK_ATTRS='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign'

capture() { # name key-alg hash scheme
	local name=$1 alg=$2 hash=$3 scheme=$4 d="$WORK/out/$1"
	mkdir -p "$d"
	tpm2_create -Q -C primary.ctx -G "$alg" -a "$AK_ATTRS" -u "$name.pub" -r "$name.priv"
	flush
	tpm2_load -Q -C primary.ctx -u "$name.pub" -r "$name.priv" -c "$name.ctx"
	flush
	tpm2_readpublic -Q -c "$name.ctx" -f pem -o "$d/ak.pub.pem"
	tpm2_quote -Q -c "$name.ctx" -l "$PCRS" -q "$QUAL" -g "$hash" --scheme "$scheme" \
		-m "$d/quote.msg" -s "$d/quote.sig" -o "$d/pcrs.out"
	tpm2_pcrread -Q "$PCRS" -o "$d/pcrs.bin"
	flush
	printf '%s\n' "$QUAL" > "$d/qualifying.hex"
	printf '%s\n' "$PCRS" > "$d/selection.txt"
	printf '%s\n' "$hash" > "$d/hash.txt"
	tpm2_print -t TPMS_ATTEST "$d/quote.msg" > "$d/attest.yaml"
	if [ "$scheme" = rsapss ]; then
		# tpm2_checkquote 5.x verifies a PEM key with PKCS#1 v1.5 padding only (tpm2-tools
		# issue #3283), so check PSS with the TPM itself and with OpenSSL instead.
		tpm2_verifysignature -Q -c "$name.ctx" -g "$hash" -m "$d/quote.msg" -s "$d/quote.sig"
		flush
		tail -c +7 "$d/quote.sig" > raw.sig
		openssl dgst -"$hash" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:auto \
			-verify "$d/ak.pub.pem" -signature raw.sig "$d/quote.msg" > /dev/null
		echo "captured $name ($alg, $hash): tpm2_verifysignature and openssl accept"
		return
	fi
	tpm2_checkquote -u "$d/ak.pub.pem" -m "$d/quote.msg" -s "$d/quote.sig" \
		-f "$d/pcrs.out" -g "$hash" -q "$QUAL" > /dev/null
	echo "captured $name ($alg, $hash): tpm2_checkquote accepts"
}

capture ecc ecc256:ecdsa-sha256:null sha256 ecdsa
capture ecc-sha384 ecc256:ecdsa-sha384:null sha384 ecdsa
capture rsa rsa2048:rsassa-sha256:null sha256 rsassa
capture rsapss rsa2048:rsapss-sha256:null sha256 rsapss

# A second AK, never used to sign: its key must not verify the other quotes.
mkdir -p out/other-ak
tpm2_create -Q -C primary.ctx -G ecc256:ecdsa-sha256:null -a "$AK_ATTRS" -u other.pub -r other.priv
flush
tpm2_load -Q -C primary.ctx -u other.pub -r other.priv -c other.ctx
flush
tpm2_readpublic -Q -c other.ctx -f pem -o out/other-ak/ak.pub.pem
flush

# Test CAs. OpenSSL 3.0 cannot issue a certificate for a bare public key without a CSR, so a
# throwaway key signs the CSR and -force_pubkey puts the AK's key in the certificate.
mkdir -p out/ca
ca() { # name subject
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
		-subj "$2" -keyout "$1.key" -out "out/ca/$1.pem" 2> /dev/null
}
issue() { # ca pubkey out subject
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout throw.key \
		-subj "$4" -out throw.csr 2> /dev/null
	openssl x509 -req -in throw.csr -force_pubkey "$2" -CA "out/ca/$1.pem" -CAkey "$1.key" \
		-CAcreateserial -days 36500 -out "$3" 2> /dev/null
}
ca ca "/CN=aicert test CA"
ca other-ca "/CN=aicert other test CA"
issue ca out/ecc/ak.pub.pem out/ca/ak.cert.pem "/CN=aicert test AK"
issue other-ca out/ecc/ak.pub.pem out/ca/ak-other-ca.cert.pem "/CN=aicert test AK"
issue ca out/other-ak/ak.pub.pem out/ca/other-ak.cert.pem "/CN=aicert other AK"
openssl verify -CAfile out/ca/ca.pem out/ca/ak.cert.pem > /dev/null
rm -f out/ca/*.srl

cd - > /dev/null
mkdir -p "$OUT"
cp -r "$WORK"/out/. "$OUT"/
echo "fixtures written to $OUT"
mkdir -p "$CORPUS"
for d in "$OUT"/*/; do
	[ -f "$d/quote.msg" ] || continue
	n=$(stat -c %s "$d/quote.msg")
	{ printf "\\x$(printf %02x $((n >> 8)))\\x$(printf %02x $((n & 255)))"; cat "$d/quote.msg" "$d/quote.sig"; } \
		> "$CORPUS/$(basename "$d")"
done
echo "fuzz seeds written to $CORPUS"
