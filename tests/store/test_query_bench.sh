# Query speed on a big study: 100,000 trials written through the store's own API (the
# fixture writer, tests/store/test_fixture.c), then filter + sort + top 10 with netspace
# query. Prints the times; the only bound is a generous sanity one (5 s), not a benchmark
# assertion. NS_BENCH_TRIALS overrides the size.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$TMP"
FIXTURE="$(dirname "$NETSPACE")/tests/store_test_fixture"
[ -x "$FIXTURE" ] || fail "fixture writer $FIXTURE not built"
N=${NS_BENCH_TRIALS:-100000}
DB="$TMP/big.db"
rm -f "$DB" "$DB-wal" "$DB-shm"
"$FIXTURE" big "$DB" "$N" || fail "writing $N trials"

now() { date +%s.%N; }
timed() { # timed LABEL CMD...: runs CMD, prints its time, fails past 5 s
    local label=$1
    shift
    local t0 t1
    t0=$(now)
    "$@" >"$TMP/out.txt" || fail "$label: $*"
    t1=$(now)
    local dt
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    printf '%-40s %6.3f s\n' "$label" "$dt"
    awk -v d="$dt" 'BEGIN { exit !(d < 5) }' || fail "$label took $dt s"
}

timed "trials --where --sort --limit 10" \
    "$NETSPACE" query --db "$DB" trials --study big --where "flops < 4e8" --sort test_error --limit 10
[ "$(wc -l <"$TMP/out.txt")" = 11 ] || fail "want a header and 10 rows: $(cat "$TMP/out.txt")"
# rows are sorted by test error and obey the filter
awk 'NR > 1 { if ($6 >= 4e8) bad = 1; if (NR > 2 && $4 + 0 < prev) bad = 1; prev = $4 + 0 }
     END { exit bad }' "$TMP/out.txt" || fail "unsorted or unfiltered: $(cat "$TMP/out.txt")"
cat "$TMP/out.txt"
timed "best -k 10" "$NETSPACE" query --db "$DB" best --study big -k 10
timed "studies (counts, best, median)" "$NETSPACE" query --db "$DB" studies
timed "trials --state failed --sort flops --desc" \
    "$NETSPACE" query --db "$DB" trials --study big --state failed --sort flops --desc --limit 10
echo "ok"
