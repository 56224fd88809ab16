#!/bin/bash
# aicert show --html: the model ID card of a real bundle (aicert-trace with swtpm on a real
# python3 run), opened in headless Chromium as a person would open it.
#   - every section is in the rendered page (#model #inputs #run #host #verification), the
#     output's digest is sha256sum of the file, and a phone-sized screenshot is taken;
#   - the page is self-contained: no script, no URL to fetch;
#   - a file name made of HTML (<img onerror=...>) is shown as text, never as markup;
#   - without --ak the card says "not verified"; with --ak it carries aicert-verify's verdict
#     and every check; a tampered bom.json gives a "failed" card, like aicert-verify.
. "$(dirname "$0")/../lib/common.sh"
need_root "aicert-trace needs root"
need_built aicert-trace aicert aicert-verify
need_cmd chromium "chromium not installed (scripts/install-deps.sh installs it)"
need_swtpm
W=$(mktemp -d /tmp/aicert-card.XXXXXX)
trap 'swtpm_stop; rm -rf "$W"' EXIT
cd "$W" || exit 1
printf 'x,y\n1,2\n3,4\n' > data.csv
N='<img src=x onerror=alert(1)>&"q.txt'
echo "a name made of markup" > "$N"
cat > train.py << PY
import os
d = open("data.csv").read()
open('''$N''').read()
with open("model.bin.tmp", "w") as f:
    f.write(d[::-1])
os.rename("model.bin.tmp", "model.bin")
PY
if "$B/aicert-trace" --tcti "$AICERT_TCTI" --state-dir "$W/state" --no-cache -o "$W/b" \
	-- /usr/bin/python3 train.py > /dev/null 2> "$W/trace.err"; then
	ok "a real bundle to show (aicert-trace, swtpm)"
else
	nok "a real bundle to show (aicert-trace, swtpm)" "$(tail -2 "$W/trace.err" | tr '\n' ' ')"
	exit 1
fi

# Chromium renders the page; --dump-dom gives the DOM it built (headless, no network)
render() { # html -> dom
	timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--dump-dom "file://$1" 2> "$1.chromium.err"
}

"$B/aicert" show --html "$W/b" > "$W/plain.html"
rc=$?
[ $rc = 0 ] && ok "aicert show --html exits 0" || nok "aicert show --html exits 0" "rc=$rc"
render "$W/plain.html" > "$W/plain.dom"
missing=""
for s in model inputs run host verification; do
	grep -q "<section id=\"$s\"" "$W/plain.dom" || missing="$missing $s"
done
[ -z "$missing" ] && ok "the rendered card has every section" "$(wc -c < "$W/plain.dom") bytes of DOM" ||
	nok "the rendered card has every section" "missing:$missing; $(tail -1 "$W/plain.html.chromium.err")"
want=$(sha256sum < model.bin | cut -c1-64)
grep -q "$want" "$W/plain.dom" && ok "the card's model digest is sha256sum of model.bin" ||
	nok "the card's model digest is sha256sum of model.bin" "want $want"
grep -q 'not verified' "$W/plain.dom" && ok "without --ak the card says it is not verified" ||
	nok "without --ak the card says it is not verified"
bad=$(grep -oiE '<script|<img|<link|<iframe|https?://[a-z]' "$W/plain.html" | sort -u | tr '\n' ' ')
[ -z "$bad" ] && ok "self-contained: no script, image, link or URL in the page" ||
	nok "self-contained: no script, image, link or URL in the page" "$bad"
if grep -qF '&lt;img src=x onerror=alert(1)&gt;&amp;&quot;q.txt' "$W/plain.html" &&
	! grep -q '<img' "$W/plain.dom"; then
	ok "a file name made of HTML is shown as text"
else
	nok "a file name made of HTML is shown as text" "$(grep -o '.\{10\}onerror.\{30\}' "$W/plain.dom" | head -1)"
fi

"$B/aicert" show --html --ak "$W/b/ak.pub.pem" "$W/b" > "$W/verified.html"
"$B/aicert-verify" "$W/b" --ak "$W/b/ak.pub.pem" > "$W/verify.out"
vrc=$?
render "$W/verified.html" > "$W/verified.dom"
npass=$(grep -c '>PASS<' "$W/verified.dom")
nchecks=$(grep -c '^PASS ' "$W/verify.out")
if [ $vrc = 0 ] && grep -q '>verified<' "$W/verified.dom" && [ "$npass" = "$nchecks" ]; then
	ok "with --ak the card carries aicert-verify's verdict" "verified, $npass checks PASS"
else
	nok "with --ak the card carries aicert-verify's verdict" "verify rc=$vrc, $npass PASS on the card, $nchecks from aicert-verify"
fi
timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --window-size=390,2400 \
	--screenshot="$W/card-phone.png" "file://$W/verified.html" > /dev/null 2>&1
if [ "$(head -c 8 "$W/card-phone.png" 2> /dev/null | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] &&
	[ "$(stat -c %s "$W/card-phone.png")" -gt 20000 ]; then
	ok "a phone-sized screenshot of the card" "$(stat -c %s "$W/card-phone.png") bytes of PNG"
	mkdir -p "$B/test-logs" && cp "$W/card-phone.png" "$B/test-logs/card-phone.png"
else
	nok "a phone-sized screenshot of the card" "no PNG"
fi

cp -r "$W/b" "$W/t"
sed -i 's/"exit_code": 0/"exit_code": 1/' "$W/t/bom.json"
"$B/aicert" show --html --ak "$W/t/ak.pub.pem" "$W/t" > "$W/tampered.html"
"$B/aicert-verify" "$W/t" --ak "$W/t/ak.pub.pem" > /dev/null
trc=$?
if [ $trc != 0 ] && grep -q '>failed<' "$W/tampered.html" && grep -q "exit code $trc" "$W/tampered.html"; then
	ok "a tampered bundle gives a failed card, with aicert-verify's exit code" "exit $trc"
else
	nok "a tampered bundle gives a failed card, with aicert-verify's exit code" "verify rc=$trc; $(grep -o 'badge [a-z]*">[a-z]*<' "$W/tampered.html" | head -1)"
fi
"$B/aicert" show --html "$W/b/bom.json" > /dev/null 2>&1
rc=$?
[ $rc = 2 ] && ok "--html on a file, not a bundle: usage error (2)" || nok "--html on a file, not a bundle: usage error (2)" "rc=$rc"
"$B/aicert" show --ak "$W/b/ak.pub.pem" "$W/b" > /dev/null 2>&1
rc=$?
[ $rc = 2 ] && ok "--ak without --html: usage error (2)" || nok "--ak without --html: usage error (2)" "rc=$rc"
exit $((fails > 0))
