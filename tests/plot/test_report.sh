# netspace report end to end, rendered in a real browser: the page of the plot fixture (three
# studies) and of the analysis fixture (twins and every degenerate study) opens in headless
# Debian chromium with every figure loaded, no console message, and a screenshot that is not
# blank; the page fetches nothing from the network; the db is left untouched; usage errors.
# Without chromium the browser checks are skipped with a message (apt-get install chromium);
# everything else still runs.
# Env: NETSPACE, TMP (ctest sets them).
set -u
: "${NETSPACE:?}" "${TMP:?}"
BIN=$(dirname "$NETSPACE")/tests
rm -rf "$TMP"
mkdir -p "$TMP"
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
command -v gnuplot >/dev/null || { echo "FAIL: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
"$BIN/plot_test_plotdb" "$TMP/plot.db" || { echo "FAIL: plot fixture not written" >&2; exit 1; }
"$BIN/plot_test_analysis" "$TMP/analysis.db" || { echo "FAIL: analysis fixture not written" >&2; exit 1; }
SUM_PLOT=$(md5sum <"$TMP/plot.db")

# report DB DIR ARGS...: writes DIR/index.html; every <img> it names exists beside it.
report() {
    local db=$1 dir=$2
    shift 2
    if ! "$NETSPACE" report --db "$db" --out "$dir" "$@" >"$TMP/stdout" 2>"$TMP/stderr"; then
        fail "report $db: $(cat "$TMP/stderr")"
        return 1
    fi
    grep -q "wrote $dir/index.html" "$TMP/stdout" || fail "report $db: no 'wrote' line"
    local html=$dir/index.html
    [ -s "$html" ] || { fail "$html: not written"; return 1; }
    grep -qi '<script' "$html" && fail "$html: has a script"
    grep -Eqi '(src|href)="(https?:)?//' "$html" && fail "$html: fetches from the network"
    grep -Eqi '(href|src)="(https?:)?//' "$dir"/*.svg && fail "$dir: an SVG fetches from the network"
    local n=0 img
    for img in $(grep -o '<img src="[^"]*"' "$html" | sed 's/<img src="//; s/"$//'); do
        [ -s "$dir/$img" ] || fail "$html: image $img missing or empty"
        grep -q '</svg>' "$dir/$img" || fail "$dir/$img: not a complete SVG"
        n=$((n + 1))
    done
    echo "$n" >"$dir/.images"
}

report "$TMP/plot.db" "$TMP/plot_report" --title "Plot fixture"
[ "$(cat "$TMP/plot_report/.images")" -ge 15 ] || fail "plot report: only $(cat "$TMP/plot_report/.images") figures"
for f in edf nedf rs fidelity trend curves-1 effect-wa; do
    grep -q "<img src=\"$f.svg\"" "$TMP/plot_report/index.html" || fail "plot report: no $f figure"
done
grep -q 'diverged: loss nan at epoch 2' "$TMP/plot_report/index.html" || fail "plot report: failure reasons missing"
# the fixture's anynet study evaluates on a validation split, the regnet ones on the test set:
# the page says which errors it shows, the EDF's axis and the fidelity note too
grep -q 'Errors are final validation or test errors in %' "$TMP/plot_report/index.html" ||
    fail "plot report: does not say the errors are validation or test errors"
grep -q "'validation or test error e (%)'" "$TMP/plot_report/edf.gp" || fail "plot report: EDF axis label"
# each parameter's figure labels the studies that have it: wa only the regnet ones (test
# set), d1 only anynet (validation split)
grep -q "set ylabel 'test error (%)'" "$TMP/plot_report/effect-wa.gp" ||
    fail "plot report: effect-wa's axis label is not 'test error'"
grep -q "set ylabel 'validation error (%)'" "$TMP/plot_report/effect-d1.gp" ||
    fail "plot report: effect-d1's axis label is not 'validation error'"
grep -q 'between the validation or test error after epoch k' "$TMP/plot_report/index.html" ||
    fail "plot report: fidelity note does not name the errors"
report "$TMP/plot.db" "$TMP/plot_report_rb" --study regnet_b
grep -q 'Errors are final test errors in %;' "$TMP/plot_report_rb/index.html" ||
    fail "plot report of a test-set study: does not say test errors"
grep -q '&quot;fixture&quot;' "$TMP/plot_report/index.html" || fail "plot report: experiment missing"
# the studies table says what each study cost: its epoch rows, as query studies counts them
grep -q '<th>epochs trained</th><th>epoch hours</th><th>span (h)</th>' "$TMP/plot_report/index.html" ||
    fail "plot report: no budget columns"
ep=$("$NETSPACE" query --db "$TMP/plot.db" studies --csv | sed -n 2p | cut -d, -f11)
median=$("$NETSPACE" query --db "$TMP/plot.db" studies | sed -n 2p | awk '{print $10}')
grep -q "<td>$median</td><td>$ep</td><td>" "$TMP/plot_report/index.html" ||
    fail "plot report: the first study's row lacks median $median then $ep epochs"
grep -q 'bot_mul: skipped: 1 in every model' "$TMP/plot_report/index.html" || fail "plot report: the constant bot_mul is not explained"
report "$TMP/analysis.db" "$TMP/analysis_report" --top 3 --failed chance
grep -q "no per-epoch metrics" "$TMP/analysis_report/index.html" || fail "analysis report: the study without epochs is not explained"
grep -q "Study empty has no complete trials" "$TMP/analysis_report/index.html" || fail "analysis report: the empty study is not explained"
[ "$(md5sum <"$TMP/plot.db")" = "$SUM_PLOT" ] || fail "the db changed: report must be read-only"

# Usage and errors.
"$NETSPACE" report --help | grep -q "usage: netspace report" || fail "report --help"
"$NETSPACE" report --db "$TMP/plot.db" >/dev/null 2>&1
[ $? -eq 2 ] || fail "report without --out: wanted exit 2"
"$NETSPACE" report --db "$TMP/plot.db" --out "$TMP/x" --top 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "report --top 0: wanted exit 2"
"$NETSPACE" report --db "$TMP/plot.db" --out "$TMP/x" --study nope >/dev/null 2>"$TMP/stderr"
[ $? -eq 1 ] && grep -q "study 'nope' not found" "$TMP/stderr" || fail "report --study nope: $(cat "$TMP/stderr")"
"$NETSPACE" report --db "$TMP/none.db" --out "$TMP/x" >/dev/null 2>"$TMP/stderr"
[ $? -eq 1 ] && grep -q "$TMP/none.db" "$TMP/stderr" || fail "report of a missing db: $(cat "$TMP/stderr")"
env PATH=/nonexistent "$NETSPACE" report --db "$TMP/plot.db" --out "$TMP/nognuplot" >/dev/null 2>"$TMP/stderr"
[ $? -eq 1 ] && grep -q "gnuplot not found" "$TMP/stderr" || fail "report without gnuplot: $(cat "$TMP/stderr")"
[ -e "$TMP/nognuplot/index.html" ] && fail "report without gnuplot: a page was left"
# --out's missing parents are made (mkdir -p); a parent that is a file is named
"$NETSPACE" report --db "$TMP/plot.db" --out "$TMP/deep/er/page" --study regnet_a >/dev/null 2>"$TMP/stderr" &&
    [ -s "$TMP/deep/er/page/index.html" ] || fail "report into new parents: $(cat "$TMP/stderr")"
: >"$TMP/afile"
"$NETSPACE" report --db "$TMP/plot.db" --out "$TMP/afile/page" >/dev/null 2>"$TMP/stderr"
[ $? -eq 1 ] && grep -q "cannot create the folder" "$TMP/stderr" || fail "report under a file: $(cat "$TMP/stderr")"

# ------------------------------------------------------------------ in a browser -------
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: the browser checks: chromium is not installed (apt-get install chromium)"
else
    # No sandbox: the test may run as root (CI containers), where chromium refuses it.
    chrome() { timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-extensions --hide-scrollbars "$@"; }
    # The image check: a copy of the page with a script that records, once everything has
    # loaded, which images did not (the page itself has no script).
    check_script='<script>window.addEventListener("load",function(){var b=[],im=document.images;for(var i=0;i<im.length;i++)if(!im[i].complete||im[i].naturalWidth===0)b.push(im[i].getAttribute("src"));document.body.setAttribute("data-imgcheck",b.length?"broken "+b.join(" "):"ok "+im.length);});</script>'
    images_ok() { # DIR: every image of DIR/index.html loaded
        local dir=$1 n
        n=$(cat "$dir/.images")
        sed "s#</body>#$check_script</body>#" "$dir/index.html" >"$dir/check.html"
        chrome --virtual-time-budget=20000 --dump-dom "file://$dir/check.html" 2>/dev/null |
            grep -o 'data-imgcheck="[^"]*"' >"$TMP/imgcheck"
        rm -f "$dir/check.html"
        grep -q "data-imgcheck=\"ok $n\"" "$TMP/imgcheck"
    }
    console_quiet() { # FILE SHOT: no console message while rendering FILE; screenshot SHOT
        chrome --enable-logging=stderr --v=0 --window-size=1200,4000 --screenshot="$2" \
            "file://$1" >/dev/null 2>"$TMP/chrome.log"
        ! grep -q ':CONSOLE' "$TMP/chrome.log"
    }
    # The checks must be able to fail: a page with a missing image and a console error.
    mkdir -p "$TMP/bad"
    cp "$TMP/plot_report/edf.svg" "$TMP/bad/"
    printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>%s</body></html>\n' \
        '<img src="edf.svg"><img src="missing.svg"><script>console.error("boom")</script>' >"$TMP/bad/index.html"
    echo 2 >"$TMP/bad/.images"
    images_ok "$TMP/bad" && fail "browser check: a missing image went unnoticed ($(cat "$TMP/imgcheck"))"
    grep -q 'broken missing.svg' "$TMP/imgcheck" || fail "browser check: no report of the missing image"
    console_quiet "$TMP/bad/index.html" "$TMP/bad.png" && fail "browser check: a console error went unnoticed"
    printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>\n' >"$TMP/blank.html"
    chrome --window-size=1200,4000 --screenshot="$TMP/blank.png" "file://$TMP/blank.html" >/dev/null 2>&1
    blank=$(stat -c %s "$TMP/blank.png" 2>/dev/null || echo 0)
    [ "$blank" -gt 0 ] || fail "chromium wrote no screenshot of a blank page"

    for dir in "$TMP/plot_report" "$TMP/analysis_report"; do
        images_ok "$dir" || fail "$dir: not every image loaded in chromium: $(cat "$TMP/imgcheck")"
        console_quiet "$dir/index.html" "$dir.png" ||
            fail "$dir: console messages: $(grep ':CONSOLE' "$TMP/chrome.log")"
        # Not blank: a PNG of a page of figures and tables compresses far worse than one of
        # an empty page of the same size.
        shot=$(stat -c %s "$dir.png" 2>/dev/null || echo 0)
        [ "$shot" -gt $((5 * blank)) ] || fail "$dir.png: looks blank ($shot bytes; a blank page is $blank)"
    done
fi

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "report: all checks passed"
