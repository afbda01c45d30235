# netspace plot and hostile output paths and text: links planted at OUT.gp, OUT.dat and the
# image are replaced, never followed (a 0600 file they point to is untouched); names that
# start with '$' or '-' plot normally; a name holding CR/LF is refused before anything is
# written; a title that is not UTF-8 still makes a well-formed SVG; no temporary file is left.
# Env: NETSPACE, TMP (ctest sets them).
set -u
: "${NETSPACE:?}" "${TMP:?}"
FIXTURE_BIN=${PLOT_FIXTURE_BIN:-$(dirname "$NETSPACE")/tests/plot_test_plotdb}
rm -rf "$TMP"
mkdir -p "$TMP/out"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v gnuplot >/dev/null || fail "gnuplot is not installed"
DB=$TMP/fx.db
"$FIXTURE_BIN" "$DB" || fail "fixture db not written"
O=$TMP/out

# links at every output name, pointing at a private file
printf 'secret\n' >"$TMP/secret" && chmod 600 "$TMP/secret"
for ext in gp dat png; do ln -s "$TMP/secret" "$O/linked.$ext"; done
"$NETSPACE" plot edf --db "$DB" --out "$O/linked.png" >/dev/null 2>"$TMP/err" ||
    fail "plot over links: $(cat "$TMP/err")"
[ "$(cat "$TMP/secret")" = secret ] || fail "a link was followed: the private file changed"
[ "$(stat -c %a "$TMP/secret")" = 600 ] || fail "the private file's mode changed"
for ext in gp dat png; do
    [ -f "$O/linked.$ext" ] && [ ! -L "$O/linked.$ext" ] || fail "linked.$ext is not a new file"
done
[ "$(head -c 4 "$O/linked.png" | od -An -c | tr -d ' ')" = "211PNG" ] || fail "linked.png is not a PNG"

# names gnuplot would misread: a datablock ('$'), an option or stdin ('-')
for name in '$x' '-x' "it's"; do
    "$NETSPACE" plot edf --db "$DB" --out "$O/$name.png" >/dev/null 2>"$TMP/err" ||
        fail "--out '$name.png': $(cat "$TMP/err")"
    [ -s "$O/$name.png" ] && [ -s "$O/$name.gp" ] && [ -s "$O/$name.dat" ] ||
        fail "--out '$name.png': files missing or empty"
done
# the script still re-runs by hand from its folder
(cd "$O" && rm -f ./-x.png && gnuplot ./-x.gp 2>/dev/null) && [ -s "$O/-x.png" ] ||
    fail "the script of '-x' does not re-run by hand"

# CR or LF in the name: refused, nothing written
for bad in $'a\nb.png' $'a\rb.png'; do
    if "$NETSPACE" plot edf --db "$DB" --out "$O/$bad" >/dev/null 2>"$TMP/err"; then
        fail "--out with a control character accepted"
    fi
    grep -q -- "--out: the name holds a control character" "$TMP/err" || fail "message: $(cat "$TMP/err")"
done
ls "$O" | grep -q '^a' && fail "a refused name left files: $(ls "$O")"

# a title that is not UTF-8 (and markup characters) makes a well-formed SVG
"$NETSPACE" plot edf --db "$DB" --out "$O/t.svg" --title $'bad \xff\xfe <b>&amp; title' \
    >/dev/null 2>"$TMP/err" || fail "plot with a non-UTF-8 title: $(cat "$TMP/err")"
xmllint --noout "$O/t.svg" 2>"$TMP/err" || fail "ill-formed SVG: $(head -3 "$TMP/err")"

# list options: an empty item or an item given twice is a usage error, not ignored
for args in "edf --study a,,a" "edf --study ,a" "curves --trials ,," "curves --trials 1,2,1"; do
    # shellcheck disable=SC2086
    "$NETSPACE" plot $args --db "$DB" --out "$O/l.png" >/dev/null 2>"$TMP/err"
    rc=$?
    [ $rc = 2 ] || fail "plot $args: exit $rc, want 2 ($(cat "$TMP/err"))"
    grep -Eq "an empty item|is given twice" "$TMP/err" || fail "plot $args: $(cat "$TMP/err")"
done

# no temporary file left behind
ls -a "$O" | grep -q 'tmp-' && fail "temporary files left: $(ls -a "$O" | grep tmp-)"
echo ok
