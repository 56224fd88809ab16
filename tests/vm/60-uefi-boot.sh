#!/bin/bash
# The VM booted by UEFI firmware (Debian's OVMF measuring into the swtpm), with Secure Boot off
# (VMH_BOOT=uefi) and on (VMH_BOOT=uefi-sb: Debian's snakeoil PK/KEK/db, the kernel signed with
# that key). In each guest, on the live firmware log (binary_bios_measurements):
#   - aicert show prints exactly what tpm2_eventlog prints (same tpm2-tools as the fixtures);
#   - the log replays (aicert show's pcrs section) to the TPM's own PCRs 0-9 (tpm2_pcrread);
#   - aicert show --facts says Secure Boot on/off as the kernel does, and names the initrd's
#     digest (the EFI stub's PCR 9 event), which is sha256sum of the harness's initramfs.
# A boot's wall time is reported (the closing note's "VM boot time with UEFI").
. "$(dirname "$0")/../lib/common.sh"
need_root "the VM harness needs root"
need_built aicert
need_cmd tpm2_eventlog "tpm2-tools not installed"
ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT

cat_guest() {
	cat << 'SH'
L=/sys/kernel/security/tpm0/binary_bios_measurements
O=$VMH_OUT
cp $L $O/boot.bin || exit 3
tpm2_eventlog $L > $O/tpm2_eventlog.yaml 2> $O/tpm2_eventlog.err
"$B/aicert" show $L > $O/show.yaml 2> $O/show.err
echo $? > $O/show.rc
"$B/aicert" show --facts $L > $O/facts.txt 2>&1
tpm2_pcrread -T device:/dev/tpmrm0 sha256:0,1,2,3,4,5,6,7,8,9 > $O/pcrread.txt
dmesg | grep -i 'secure boot' > $O/kernel-sb.txt
exit 0
SH
}

for mode in uefi uefi-sb; do
	t0=$(date +%s.%N)
	VMH_BOOT=$mode tests/vm/lib/vm.sh "B=$B; $(cat_guest)" > /dev/null 2> "$ERR"
	rc=$?
	t1=$(date +%s.%N)
	run=$(sed -n 's/^vm.sh: run dir: \([^ ]*\).*/\1/p' "$ERR")
	O=$run/out
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	if [ $rc != 0 ] || [ ! -s "$O/boot.bin" ]; then
		nok "[$mode] the guest boots with OVMF and has a firmware log" "rc=$rc: $(tail -3 "$ERR" | tr '\n' ' ')"
		continue
	fi
	ok "[$mode] the guest boots with OVMF and has a firmware log" "$(stat -c %s "$O/boot.bin") bytes, boot and command ${secs} s"
	if [ "$(cat "$O/show.rc")" = 0 ] && diff <(grep -v '^$' "$O/tpm2_eventlog.yaml") "$O/show.yaml" > "$O/yaml.diff"; then
		ok "[$mode] aicert show prints the live log as tpm2_eventlog does" "$(grep -c EventNum "$O/show.yaml") events"
	else
		nok "[$mode] aicert show prints the live log as tpm2_eventlog does" "rc=$(cat "$O/show.rc") $(head -c 300 "$O/yaml.diff" "$O/show.err" | tr '\n' ' ')"
	fi
	# the replayed sha256 PCRs (aicert's own replay) against the TPM's
	bad=$(/usr/bin/python3 - "$O/show.yaml" "$O/pcrread.txt" << 'PY'
import sys, yaml
log = yaml.safe_load(open(sys.argv[1]))["pcrs"]["sha256"]
tpm = yaml.safe_load(open(sys.argv[2]))["sha256"]
bad = [f"{p}: log {log.get(p, 0):#x} tpm {v:#x}" for p, v in tpm.items() if log.get(p, 0) != v]
print("; ".join(bad))
PY
	)
	if [ -z "$bad" ] && [ "$(grep -c ' : 0x' "$O/pcrread.txt")" = 10 ]; then
		ok "[$mode] the log replays to the TPM's PCRs 0-9"
	else
		nok "[$mode] the log replays to the TPM's PCRs 0-9" "${bad:-no pcrread output}"
	fi
	want=off
	[ $mode = uefi-sb ] && want=on
	ksb=off
	grep -q 'Secure boot enabled' "$O/kernel-sb.txt" && ksb=on
	if grep -q "^secure boot   $want\$" "$O/facts.txt" && [ $ksb = $want ]; then
		ok "[$mode] --facts: secure boot $want, as the kernel says"
	else
		nok "[$mode] --facts: secure boot $want, as the kernel says" "$(head -1 "$O/facts.txt"); kernel: $(cat "$O/kernel-sb.txt")"
	fi
	initrd=$(sha256sum "${VMH:-/var/tmp/aicert-vm}"/build/initrd-*.gz | cut -c1-64)
	if grep -q "^initrd        sha256 $initrd " "$O/facts.txt"; then
		ok "[$mode] --facts: the initrd digest is sha256sum of the initramfs"
	else
		nok "[$mode] --facts: the initrd digest is sha256sum of the initramfs" "$(grep '^initrd' "$O/facts.txt"), want $initrd"
	fi
done
exit $((fails > 0))
