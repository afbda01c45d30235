# netspace plot scaling from the command line, on the hand-worked scaling fixture
# (tests/plot/test_scaling.c): the table on stdout, the notes on stderr, the files beside
# the image, the errors (exit 1) and usage errors (exit 2), and the kind in --help.
# Env: NETSPACE, TMP (ctest sets them).
set -u
: "${NETSPACE:?}" "${TMP:?}"
BIN=$(dirname "$NETSPACE")/tests
rm -rf "$TMP"
mkdir -p "$TMP/out"
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
command -v gnuplot >/dev/null || { echo "FAIL: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
DB=$TMP/fx.db
"$BIN/plot_test_scaling" "$DB" || { echo "FAIL: fixture not written" >&2; exit 1; }
"$BIN/plot_test_scaling" "$TMP/mismatch.db" mismatch || { echo "FAIL: mismatch fixture not written" >&2; exit 1; }
"$BIN/plot_test_scaling" "$TMP/spaces.db" spaces || { echo "FAIL: spaces fixture not written" >&2; exit 1; }

# run WANT_STATUS ARGS...: netspace ARGS, stdout in $TMP/stdout, stderr in $TMP/stderr.
run() {
    local want=$1
    shift
    "$NETSPACE" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    local rc=$?
    [ $rc -eq "$want" ] || fail "netspace $*: exit $rc, wanted $want: $(cat "$TMP/stderr")"
}
has() { grep -qF -- "$1" "$TMP/$2" || fail "'$1' not in $2 of the last command: $(cat "$TMP/$2")"; }

# Every scaling study of the db (not 'plain'); the table is the figure's numbers, one row per
# model, the base first, then by dimension and target.
run 0 plot scaling --db "$DB" --out "$TMP/out/sc.png"
has "test error (%) over 3 seeds: s1, s2, s3" stdout
has "dim         target        flops     params   n     mean      min      max  trial" stdout
has "base             1      5000000      90000   3    11.00    10.00    12.00      0" stdout
has "depth            4     20000000     400000   2     5.50     5.00     6.00      5" stdout
has "compound         4     19700000     190000   2     2.50     2.00     3.00      8" stdout
has "wrote $TMP/out/sc.png (script $TMP/out/sc.gp, data $TMP/out/sc.dat)" stdout
[ "$(grep -c '^[a-z]* *[0-9]* *[0-9]* *[0-9]* *[0-9] ' "$TMP/stdout")" -eq 9 ] || fail "not 9 model rows: $(cat "$TMP/stdout")"
sed -n 3p "$TMP/stdout" | grep -q '^base ' || fail "the base is not the first row"
has "study 'waiting_sc' left out: no complete trials" stderr
has "study 's2': 1 of its 9 trials left out (1 failed)" stderr
has "study 's3': 1 of its 9 trials left out (1 not finished" stderr
[ -s "$TMP/out/sc.png" ] && [ -s "$TMP/out/sc.gp" ] && [ -s "$TMP/out/sc.dat" ] || fail "sc.png, .gp or .dat missing"
# the script re-draws the figure from its folder, as every kind's does
(cd "$TMP/out" && gnuplot sc.gp) || fail "sc.gp does not re-run"

# --error best, --failed chance, as the other kinds take them
run 0 plot scaling --db "$DB" --study s1,s2,s3 --error best --failed chance --out "$TMP/out/best.svg"
has "best test error (%) over 3 seeds" stdout
has "depth            4     20000000     400000   3    33.33     4.50    90.00      5" stdout
grep -q "</svg>" "$TMP/out/best.svg" || fail "best.svg: not a complete SVG"

# Errors: a study that is not a scaling study, another architecture at a trial index, an
# unknown study, no finished trials; none writes a figure.
run 1 plot scaling --db "$DB" --study s1,plain --out "$TMP/out/bad.png"
has "study 'plain' is not a scaling study" stderr
run 1 plot scaling --db "$TMP/mismatch.db" --out "$TMP/out/bad.png"
has "study 'other', trial 3: not the architecture of trial 3 of study 's1'" stderr
run 1 plot scaling --db "$DB" --study s1,nope --out "$TMP/out/bad.png"
has "study 'nope' not found" stderr
run 1 plot scaling --db "$DB" --study waiting_sc --out "$TMP/out/bad.png"
has "study 'waiting_sc': no complete trials" stderr
[ -e "$TMP/out/bad.png" ] || [ -e "$TMP/out/bad.dat" ] && fail "a refused plot wrote files"
[ -s "$TMP/stdout" ] && fail "a refused plot printed a table: $(cat "$TMP/stdout")"

# Two scaling studies in one db: the default names them and asks for one; each alone is fine.
run 1 plot scaling --db "$TMP/spaces.db" --out "$TMP/out/bad.png"
has "the db's scaling studies are the seeds of 2 scaling studies (their base networks differ): a_s1, a_s2 (space scaling_a; base 5M flops, 90k params); b_s1 (space scaling_b; base 7.5M flops, 135k params); name one's seeds with --study" stderr
[ -s "$TMP/stdout" ] && fail "a refused plot printed a table: $(cat "$TMP/stdout")"
run 0 plot scaling --db "$TMP/spaces.db" --study b_s1 --out "$TMP/out/b.svg"
has "validation error (%) over 1 seed: b_s1" stdout # b_s1 evaluates on a validation split
has "base             1      7500000     135000   1    10.00    10.00    10.00      0" stdout

# Without gnuplot the numbers are still printed, then the error (exit 1); a bad --out is
# refused before the db is read.
PATH=/nonexistent run 1 plot scaling --db "$DB" --out "$TMP/out/nognuplot.png"
has "base             1      5000000      90000   3    11.00    10.00    12.00      0" stdout
has "gnuplot not found on PATH" stderr
[ -s "$TMP/out/nognuplot.gp" ] && [ -s "$TMP/out/nognuplot.dat" ] || fail "nognuplot.gp or .dat missing"
run 1 plot scaling --db "$DB" --out "$TMP/out/bad.txt"
has "unknown image type '.txt'" stderr
[ -s "$TMP/stdout" ] && fail "a refused --out printed a table: $(cat "$TMP/stdout")"

# Usage errors
run 2 plot scaling --db "$DB" --param flops --out "$TMP/out/bad.png"
has "scaling takes no --param" stderr
run 2 plot scaling --db "$DB" --normalize flops --out "$TMP/out/bad.png"
run 2 plot scaling --db "$DB"

run 0 plot --help
has "  scaling  error of a scaling study's seeds against flops, a line per scaling dimension" stdout
has "its table (a row per model: mean, min and max over the seeds) on stdout" stdout
has "netspace plot scaling --db results/scaling.db --out plots/scaling.png" stdout
run 0 --help
has "trend, effects, scaling" stdout

[ $fails -eq 0 ] || { echo "$fails failures" >&2; exit 1; }
echo "plot scaling: all checks passed"
