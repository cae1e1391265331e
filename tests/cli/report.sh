#!/usr/bin/env bash
# report.sh: the HTML report of `relstab reproduce` as a user sees it, in headless Chromium (Debian's `chromium`,
# installed by scripts/deps.sh): every image of the report loads (checked inside the browser by a test page that
# frames the report), every relative link and image points to a file that exists, the report has no script, and
# its screenshot is not blank (much larger than the screenshot of an empty page). A copy of the report with one
# figure removed must be caught, so the check can fail.
source "$(dirname "$0")/lib.sh"
cli_init report "$@"
command -v chromium > /dev/null || { echo "FAIL: chromium is not installed (scripts/deps.sh installs it)"; exit 1; }
OUT=$TMP/out
"$BIN" reproduce theory --scale tiny --out "$OUT" --quiet > /dev/null 2>&1 || fail "reproduce theory failed"
"$BIN" reproduce scale1d --scale tiny --out "$OUT" --quiet > /dev/null 2>&1 || fail "reproduce scale1d failed"
R=$OUT/index.html
[ -s "$R" ] || { fail "no report"; cli_done; }

chrome() { # chrome ARGS... : headless Chromium, a fresh profile, no network services
    local ud
    ud=$(mktemp -d "$TMP/profile-XXXXXX")
    timeout 180 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$ud" "$@" \
        2> /dev/null
    rm -rf "$ud"
}

# A test page next to the report frames it and lists its images that did not load (the report itself has no
# script; this page is only the test's).
check_page() { # check_page DIR -> prints "RESULT images=N broken=M ..."
    cat > "$1/check-report.html" << 'EOF'
<!DOCTYPE html><html><body><iframe id="f" src="index.html" width="1250" height="900"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {
  var d = this.contentDocument, bad = [], imgs = d ? d.images : [];
  for (var i = 0; i < imgs.length; i++)
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad.push(imgs[i].getAttribute('src'));
  var out = document.createElement('pre');
  out.textContent = 'RESULT images=' + imgs.length + ' broken=' + bad.length + ' ' + bad.join(' ') + (d ? '' : ' NOACCESS');
  document.body.appendChild(out);
});
</script></body></html>
EOF
    chrome --allow-file-access-from-files --virtual-time-budget=20000 --dump-dom "file://$1/check-report.html" |
        grep -o 'RESULT[^<]*' | tail -1
}

n_img=$(grep -o '<img src="[^"]*"' "$R" | wc -l)
[ "$n_img" -ge 5 ] || fail "the report shows $n_img images, expected at least 5 (4 theory + 2 scale1d)"
res=$(check_page "$OUT")
expect_in "$res" "RESULT images=$n_img broken=0 " "every image of the report loads in Chromium"

# every relative src/href points to an existing file
while read -r ref; do
    case "$ref" in http:* | https:* | \#*) continue ;; esac
    [ -e "$OUT/$ref" ] || fail "broken link or image in the report: $ref"
done < <(grep -o -E '(src|href)="[^"]*"' "$R" | sed -E 's/^(src|href)="//; s/"$//')
grep -q -i '<script' "$R" && fail "the report has a script"

# the screenshot is not blank
chrome --window-size=1280,2000 --screenshot="$TMP/report.png" "file://$R" > /dev/null
echo '<!DOCTYPE html><html><body></body></html>' > "$TMP/blank.html"
chrome --window-size=1280,2000 --screenshot="$TMP/blank.png" "file://$TMP/blank.html" > /dev/null
[ -s "$TMP/report.png" ] && [ -s "$TMP/blank.png" ] || fail "Chromium wrote no screenshot"
rs=$(stat -c %s "$TMP/report.png" 2> /dev/null || echo 0)
bs=$(stat -c %s "$TMP/blank.png" 2> /dev/null || echo 1)
[ "$rs" -gt $((10 * bs)) ] || fail "the report's screenshot ($rs bytes) is hardly larger than a blank page's ($bs bytes)"

# the check catches a missing figure
B=$TMP/broken
cp -r "$OUT" "$B"
rm "$B/theory/theory_1d-stride2.png"
res=$(check_page "$B")
expect_in "$res" "broken=1 theory/theory_1d-stride2.png" "a removed figure is reported broken"

cli_done
