# netspace plot end to end: every kind makes a real image from the fixture db (written by
# the plot_test_plotdb test program in its PATH mode), writes its .gp and .dat beside it, and
# the .gp re-runs by hand; SVG output; the error messages; the db is left untouched.
# Env: NETSPACE, TMP (ctest sets them); PLOT_FIXTURE_BIN overrides the fixture writer
# (default: the plot_test_plotdb binary in <build>/tests, beside <build>/netspace).
set -u
: "${NETSPACE:?}" "${TMP:?}"
FIXTURE_BIN=${PLOT_FIXTURE_BIN:-$(dirname "$NETSPACE")/tests/plot_test_plotdb}
rm -rf "$TMP"
mkdir -p "$TMP/out"
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

command -v gnuplot >/dev/null || { echo "FAIL: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
[ -x "$FIXTURE_BIN" ] || { echo "FAIL: no fixture writer at $FIXTURE_BIN" >&2; exit 1; }
DB=$TMP/fx.db
"$FIXTURE_BIN" "$DB" || { echo "FAIL: fixture db not written" >&2; exit 1; }
DB_SUM=$(md5sum <"$DB")

# A PNG: the 8-byte signature, an IHDR of 800x560, and a plausible size.
check_png() {
    local f=$1
    [ -f "$f" ] || { fail "$f: not written"; return; }
    local sig
    sig=$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')
    [ "$sig" = 89504e470d0a1a0a ] || fail "$f: not a PNG (signature $sig)"
    local wh
    wh=$(dd if="$f" bs=1 skip=16 count=8 2>/dev/null | od -An -tu1 | tr -s ' ' | sed 's/^ //')
    [ "$wh" = "0 0 3 32 0 0 2 48" ] || fail "$f: size is not 800x560 (IHDR bytes $wh)"
    local n
    n=$(stat -c %s "$f")
    [ "$n" -gt 15000 ] && [ "$n" -lt 3000000 ] || fail "$f: implausible size $n bytes"
}

# The script and data sit beside the image, and the script re-runs from that folder (checked
# for a few kinds only: each gnuplot start costs ~0.3 s).
check_rerun() {
    local img=$1 base=${1%.*}
    [ -s "$base.gp" ] || fail "$base.gp: missing"
    [ -s "$base.dat" ] || fail "$base.dat: missing"
    local before
    before=$(md5sum <"$img")
    rm -f "$img"
    (cd "$(dirname "$img")" && gnuplot "$(basename "$base.gp")") || fail "$base.gp: does not re-run"
    [ -s "$img" ] || fail "$base.gp: re-run wrote no image"
    [ "$(md5sum <"$img" 2>/dev/null)" = "$before" ] || [ "${img##*.}" = svg ] ||
        fail "$img: re-run gives a different image"
}

# plot_ok NAME ARGS...: the command succeeds and writes $TMP/out/NAME.
plot_ok() {
    local out=$1
    shift
    if ! "$NETSPACE" plot "$@" --db "$DB" --out "$TMP/out/$out" >"$TMP/stdout" 2>"$TMP/stderr"; then
        fail "plot $* failed: $(cat "$TMP/stderr")"
        return 1
    fi
    grep -q "wrote $TMP/out/$out" "$TMP/stdout" || fail "plot $*: no 'wrote' line"
}

# plot_err WANT ARGS...: the command fails with status 1 and WANT in its message (NS_ENV:
# extra VAR=value settings for it).
plot_err() {
    local want=$1
    shift
    # shellcheck disable=SC2086
    env ${NS_ENV:-} "$NETSPACE" plot "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    local rc=$?
    [ $rc -eq 1 ] || fail "plot $*: exit $rc, wanted 1"
    grep -qF -- "$want" "$TMP/stderr" || fail "plot $*: message lacks '$want': $(cat "$TMP/stderr")"
}

plot_ok edf.png edf && check_png "$TMP/out/edf.png" && check_rerun "$TMP/out/edf.png"
grep -q "index 2: anynet" "$TMP/out/edf.dat" || fail "edf: not every study plotted"
plot_ok nedf.png edf --study regnet_a --study regnet_b --normalize flops --bins 5 --failed chance &&
    check_png "$TMP/out/nedf.png"
grep -q "counted at chance" "$TMP/out/nedf.gp" || fail "nedf: legend does not say failed=chance"
plot_ok wa.png param --param wa --study regnet_a,regnet_b --seed 3 &&
    check_png "$TMP/out/wa.png"
plot_ok flops.png param --param flops --error best && check_png "$TMP/out/flops.png"
grep -q "set logscale x" "$TMP/out/flops.gp" || fail "param flops: x axis not logarithmic"
plot_ok curves.png curves --study regnet_a --top 3 && check_png "$TMP/out/curves.png"
plot_ok curves2.png curves --study anynet --trials 4,7 && check_png "$TMP/out/curves2.png"
plot_ok models.png models --study regnet_b --top 3 && check_png "$TMP/out/models.png" &&
    check_rerun "$TMP/out/models.png"

# The bootstrap is deterministic per seed.
cp "$TMP/out/wa.dat" "$TMP/wa_seed3.dat"
plot_ok wa.png param --param wa --study regnet_a,regnet_b --seed 3
cmp -s "$TMP/out/wa.dat" "$TMP/wa_seed3.dat" || fail "param: same seed, different data"
plot_ok wa.png param --param wa --study regnet_a,regnet_b --seed 4
cmp -s "$TMP/out/wa.dat" "$TMP/wa_seed3.dat" && fail "param: another seed, the same band"

# SVG by extension, from a folder given relatively, re-run from there.
mkdir -p "$TMP/out/svg"
if (cd "$TMP/out" && "$NETSPACE" plot edf --db "$DB" --out svg/edf.svg >/dev/null 2>"$TMP/stderr"); then
    head -c 100 "$TMP/out/svg/edf.svg" | grep -q '<?xml' || fail "edf.svg: no XML header"
    grep -q '<svg' "$TMP/out/svg/edf.svg" && grep -q '</svg>' "$TMP/out/svg/edf.svg" ||
        fail "edf.svg: not a complete SVG"
    check_rerun "$TMP/out/svg/edf.svg"
else
    fail "svg plot failed: $(cat "$TMP/stderr")"
fi

# Errors.
NS_ENV=PATH=/nonexistent plot_err "gnuplot not found on PATH; install it (apt-get install gnuplot-nox)" \
    edf --db "$DB" --out "$TMP/out/nognuplot.png"
[ -s "$TMP/out/nognuplot.gp" ] || fail "missing gnuplot: the script should still be written"
# A gnuplot that fails: its exit status and stderr reach the user; one that writes nothing.
mkdir -p "$TMP/fakebin"
printf '#!/bin/sh\necho "line 7: boom" >&2\nexit 3\n' >"$TMP/fakebin/gnuplot"
chmod +x "$TMP/fakebin/gnuplot"
NS_ENV="PATH=$TMP/fakebin:$PATH" plot_err "(exit status 3): line 7: boom" \
    edf --db "$DB" --out "$TMP/out/fake.png"
printf '#!/bin/sh\nexit 0\n' >"$TMP/fakebin/gnuplot"
NS_ENV="PATH=$TMP/fakebin:$PATH" plot_err "gnuplot wrote no image" \
    edf --db "$DB" --out "$TMP/out/fake.png"
plot_err "study 'nope' not found" edf --db "$DB" --study regnet_a,nope --out "$TMP/out/x.png"
plot_err "unknown parameter 'nope'" param --db "$DB" --param nope --out "$TMP/out/x.png"
plot_err "study 'regnet_a': --normalize flops: bin " edf --db "$DB" --normalize flops --bins 300 \
    --study regnet_a --out "$TMP/out/x.png"
plot_err "has no models" edf --db "$DB" --normalize params --range 1,2 --out "$TMP/out/x.png"
plot_err "trial 9999" curves --db "$DB" --study regnet_a --trials 2,9999 --out "$TMP/out/x.png"
plot_err "name one with --study" models --db "$DB" --out "$TMP/out/x.png"
plot_err ".png or .svg" edf --db "$DB" --out "$TMP/out/x.jpg"
plot_err "$TMP/none.db" edf --db "$TMP/none.db" --out "$TMP/out/x.png"

# Usage.
"$NETSPACE" plot --help | grep -q "usage: netspace plot KIND" || fail "--help"
"$NETSPACE" plot edf --help >/dev/null || fail "edf --help"
for args in "" "pie --db $DB --out $TMP/out/x.png" "edf --out $TMP/out/x.png" \
    "param --db $DB --out $TMP/out/x.png" "edf --db $DB --out $TMP/out/x.png --bins 0" \
    "curves --db $DB --out $TMP/out/x.png --normalize flops" \
    "edf --db $DB --out $TMP/out/x.png --failed maybe"; do
    # shellcheck disable=SC2086
    "$NETSPACE" plot $args >/dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "plot $args: exit $rc, wanted 2 (bad usage)"
done

[ "$(md5sum <"$DB")" = "$DB_SUM" ] || fail "the db changed: plot must be read-only"

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "plot: all checks passed"
