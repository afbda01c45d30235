# netspace compare and the analysis plots from the command line, on the hand-worked analysis
# fixture (tests/plot/test_analysis.c): the numbers printed (text, JSON, the paired markdown
# row that replaced plots/paired_table.sh), the analysis plots' files and messages, usage
# errors; and the README's Python snippet for reading a results db, run as written.
# Env: NETSPACE, SRC, TMP (ctest sets them).
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
BIN=$(dirname "$NETSPACE")/tests
rm -rf "$TMP"
mkdir -p "$TMP/out"
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
DB=$TMP/fx.db
"$BIN/plot_test_analysis" "$DB" || { echo "FAIL: fixture not written" >&2; exit 1; }

# run WANT_STATUS ARGS...: netspace ARGS, stdout in $TMP/stdout, stderr in $TMP/stderr.
run() {
    local want=$1
    shift
    "$NETSPACE" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    local rc=$?
    [ $rc -eq "$want" ] || fail "netspace $*: exit $rc, wanted $want: $(cat "$TMP/stderr")"
}
has() { grep -qF -- "$1" "$TMP/$2" || fail "'$1' not in $2 of the last command: $(cat "$TMP/$2")"; }

# The twins (see the fixture): medians 45 and 42.5, D = 1/8, d = +2 -2 0 -5 +5 -10 +5 -10.
run 0 compare --db "$DB" --study twin_a,twin_b --paired --resamples 300
has "twin_a       8       0    45.00%" stdout
has "twin_b       8       0    42.50%" stdout
has "median difference (twin_b - twin_a): -2.50 points" stdout
has "KS: D = 0.1250, p = 1 (effective n 4.0)" stdout
has "paired: 8 twins (same trial index and architecture)" stdout
has "medians of the twins: twin_a 45.00%, twin_b 42.50%" stdout
has "twin_b better in 4, twin_a better in 3, tied 1" stdout
has "difference twin_b - twin_a: mean -1.88 [" stdout
has "median -1.00 [" stdout
# ranks of twin_b's errors 1 2 3 4 6 5 8 7: sum d^2 = 4, rho = 1 - 6*4/(8*63); 2 of 28 pairs
# discordant, tau = 24/28; the best of each is trial 0
has "ranking of the twins: Spearman rho 0.952 [" stdout
has "], Kendall tau 0.857, top-10 % overlap 1.00" stdout
run 0 compare --db "$DB" --study twin_a --study twin_b --paired --markdown --header
has "| A | B | pairs | median A | median B | B better |" stdout
has "| twin_a | twin_b | 8 | 45.00 | 42.50 | 4 of 8 | -1.88 [" stdout
has "| Spearman rho |" stdout
has "] | 0.952 |" stdout
run 0 compare --db "$DB" --study twin_a,twin_b --normalize flops --bins 1 --json
has '"ks": {"d": 0.125, "p": 0.99999' stdout
has '"ks_normalized": {"by": "flops", "lo": 1000000.0, "hi": 8000000.0, "bins": 1, "d": 0.1666666667' stdout
has '"median_diff": {"estimate": -2.5' stdout
run 0 compare --db "$DB" --study twin_a,twin_b --paired --json
has '"spearman": {"estimate": 0.9523809524, "lo": ' stdout
has '"kendall": 0.8571428571, "top10_overlap": 1.0' stdout
# Same seed, same intervals; the seed is the only source of randomness.
run 0 compare --db "$DB" --study twin_a,twin_b --seed 7 --json
cp "$TMP/stdout" "$TMP/seed7"
run 0 compare --db "$DB" --study twin_a,twin_b --seed 7 --json
cmp -s "$TMP/stdout" "$TMP/seed7" || fail "compare: same seed, different output"

# Degenerate studies: clear messages.
run 1 compare --db "$DB" --study twin_a,empty
has "study 'empty': no complete trials with a test error (0 trials, 0 failed)" stderr
run 1 compare --db "$DB" --study twin_a,allfailed
has "--failed chance counts them" stderr
run 0 compare --db "$DB" --study twin_a,allfailed --failed chance
has "allfailed       3       3    90.00%  [90.00, 90.00]" stdout
run 1 compare --db "$DB" --study twin_a,noepochs --paired
has "have no twins" stderr
run 1 compare --db "$DB" --study twin_a,nope
has "study 'nope' not found; studies: twin_a, twin_b, one, empty, allfailed, ties, noepochs" stderr
run 1 compare --db "$DB" --study twin_a,one --normalize flops
has "ranges do not overlap; give --range LO,HI" stderr
run 2 compare --db "$DB" --study twin_a
has "name exactly two studies" stderr
run 2 compare --db "$DB" --study twin_a,twin_b --markdown
run 2 compare --db "$DB" --study twin_a,twin_b --range 1,2
run 2 compare --study twin_a,twin_b
run 0 compare --help
has "usage: netspace compare" stdout

# The analysis plots: files, messages for degenerate studies, never a NaN in the data.
run 0 plot rs --db "$DB" --study twin_a,twin_b,empty --k 8 --out "$TMP/out/rs.png"
has "wrote $TMP/out/rs.png" stdout
has "study 'empty' left out: no complete trials" stderr
[ -s "$TMP/out/rs.png" ] && [ -s "$TMP/out/rs.gp" ] || fail "rs: image or script missing"
[ "$(grep -c '^[0-9]' "$TMP/out/rs.dat")" -eq 16 ] || fail "rs: wanted 8 rows a study"
run 0 plot fidelity --db "$DB" --out "$TMP/out/fid.svg"
has "study 'noepochs' left out: no per-epoch metrics" stderr
run 1 plot fidelity --db "$DB" --study noepochs --out "$TMP/out/x.svg"
has "study 'noepochs' has no per-epoch metrics" stderr
# budget on its own fixture: rho of each study's twins as compare --paired gives it (same
# default resamples and seed), the study at the reference's epochs as the ceiling.
BDB=$TMP/budget.db
"$BIN/plot_test_analysis" "$BDB" budget || fail "budget fixture not written"
run 0 plot budget --db "$BDB" --study ref,e1,e2,s2 --out "$TMP/out/budget.png"
has "wrote $TMP/out/budget.png" stdout
run 0 compare --db "$BDB" --study ref,s2 --paired --json
rho=$(grep -o '"spearman": {"estimate": [^,]*, "lo": [^,]*, "hi": [^}]*' "$TMP/stdout" |
    sed 's/"spearman": {"estimate": \([^,]*\), "lo": \([^,]*\), "hi": \(.*\)/\1 \2 \3/')
awk -v want="$rho 8" '$1 == 2.06 { split(want, w, " "); n++
    for (i = 1; i <= 4; i++) if ($(i + 1) != w[i] + 0) n = -99 } END { exit n != 1 }' \
    "$TMP/out/budget.dat" || fail "budget: ceiling is not compare's rho '$rho'"
grep -qF "title 's2: same budget, another training seed (ceiling)'" "$TMP/out/budget.gp" ||
    fail "budget: no ceiling line"
run 1 plot budget --db "$BDB" --study ref --out "$TMP/out/x.png"
has "only one given" stderr
run 1 plot budget --db "$BDB" --study ref,e4_other --out "$TMP/out/x.png"
has "have no twins" stderr
run 1 plot budget --db "$BDB" --study ref,norecipe --out "$TMP/out/x.png"
has "has no recipe.epochs" stderr
run 1 plot budget --db "$DB" --study twin_a,twin_b --out "$TMP/out/x.png"
has "study 'twin_a': its stored experiment has no recipe.epochs" stderr
run 2 plot budget --db "$BDB" --study ref,e1 --param wa --out "$TMP/out/x.png"
run 0 plot trend --db "$DB" --param params --bins 3 --logx off --out "$TMP/out/trend.svg"
grep -q "set logscale" "$TMP/out/trend.gp" && fail "trend --logx off: log axis"
run 0 plot trend --db "$DB" --study twin_a --logx on --out "$TMP/out/trend2.svg"
grep -q "set logscale x" "$TMP/out/trend2.gp" || fail "trend --logx on: linear axis"
run 0 plot effects --db "$DB" --study twin_a,twin_b,one --out "$TMP/out/eff.png"
has "wrote $TMP/out/eff-depth.png" stdout
has "wrote $TMP/out/eff-lr.png" stdout
has "depth: study 'one' left out: 1 models with it" stderr
run 1 plot effects --db "$DB" --study ties --out "$TMP/out/x.png"
has "no sampled parameters" stderr
# The older plots on the degenerate studies: clear messages, no NaN.
run 0 plot edf --db "$DB" --study twin_a,ties,one --out "$TMP/out/edf.png"
run 1 plot edf --db "$DB" --study twin_a,empty --out "$TMP/out/x.png"
has "study 'empty': no complete trials" stderr
run 0 plot edf --db "$DB" --study allfailed --failed chance --out "$TMP/out/edf_failed.png"
run 1 plot param --db "$DB" --study one --param depth --out "$TMP/out/x.png"
has "the best-model range needs at least 4" stderr
run 1 plot curves --db "$DB" --study noepochs --out "$TMP/out/x.png"
has "has no per-epoch metrics" stderr
run 0 plot curves --db "$DB" --study ties --out "$TMP/out/curves_ties.png"
if grep -il '\bnan\b\|\binf\b' "$TMP"/out/*.dat | grep -q .; then
    fail "a NaN or inf in $(grep -il '\bnan\b\|\binf\b' "$TMP"/out/*.dat)"
fi
run 2 plot rs --db "$DB" --param wa --out "$TMP/out/x.png"
run 2 plot fidelity --db "$DB" --normalize flops --out "$TMP/out/x.png"
run 2 plot effects --db "$DB" --param wa --out "$TMP/out/x.png"
run 2 plot edf --db "$DB" --k 3 --out "$TMP/out/x.png"
run 2 plot trend --db "$DB" --param wa --out "$TMP/out/x.png"
run 2 plot rs --db "$DB" --top 3 --out "$TMP/out/x.png"

# The README's Python snippet (between its markers), as written, on this db.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -z "$PY" ]; then
    fail "python3 is not installed (apt-get install python3): the README snippet is untested"
else
    sed -n '/<!-- python-snippet-start -->/,/<!-- python-snippet-end -->/p' "$SRC/README.md" |
        sed '1,/^```python$/d; /^```$/,$d' >"$TMP/snippet.py"
    [ -s "$TMP/snippet.py" ] || fail "README: no python snippet between the markers"
    if "$PY" "$TMP/snippet.py" "$DB" >"$TMP/stdout" 2>"$TMP/stderr"; then
        has "twin_a: 8 complete, 0 failed, median 45.00 %" stdout
        has "allfailed: 0 complete, 3 failed" stdout
        has "twin_a trial 0: 3 epochs, test error by epoch [90.0, 11.0, 10.0]" stdout
    else
        fail "README python snippet: $(cat "$TMP/stderr")"
    fi
fi

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
# --study, --error and --failed read as plot reads them (one shared parser)
"$NETSPACE" compare --db "$TMP/x.db" --study a,,a >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" = 2 ] && grep -q "an empty item" "$TMP/err" || fail "compare --study a,,a: rc $rc, $(cat "$TMP/err")"
"$NETSPACE" report --db "$TMP/x.db" --out "$TMP/r" --error worst >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" = 2 ] && grep -q "use final or best" "$TMP/err" || fail "report --error worst: rc $rc, $(cat "$TMP/err")"
echo "compare: all checks passed"
