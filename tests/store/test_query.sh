# netspace query against the small fixture db (tests/store/test_fixture.c documents its
# contents: study regnet with trials 0..5 in every state, study anynet with 3 trials).
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$TMP"
FIXTURE="$(dirname "$NETSPACE")/tests/store_test_fixture"
[ -x "$FIXTURE" ] || fail "fixture writer $FIXTURE not built"
DB="$TMP/q.db"
rm -f "$DB" "$DB-wal" "$DB-shm"
"$FIXTURE" small "$DB" || fail "writing the fixture"
Q() { "$NETSPACE" query --db "$DB" "$@"; }
# expect_fail CODE NEEDLE CMD...: exits with CODE and says NEEDLE on stderr
expect_fail() {
    local code=$1 needle=$2
    shift 2
    local err
    err=$("$@" 2>&1 >/dev/null)
    local rc=$?
    [ "$rc" = "$code" ] || fail "$* exited $rc, want $code ($err)"
    case "$err" in *"$needle"*) ;; *) fail "$*: '$err' lacks '$needle'" ;; esac
}

Q --help | grep -q "usage: netspace query" || fail "--help"

# studies: counts by state, best and median
out=$(Q studies) || fail "studies"
# and the budget: epoch rows (3 of 10.0 + 10.5 + 10.2 s = 0.009 h), the span of the trials
echo "$out" | grep -Eq '^regnet +regnetx +6 +1 +1 +3 +1 +0 +9\.75 +12\.50 +3 +0\.009 +0\.000$' ||
    fail "studies row regnet: $out"
echo "$out" | grep -Eq '^anynet +anynetx_a +3 +0 +0 +3 +0 +0 +18\.00 +20\.00 +0 +0\.000 +0\.000$' ||
    fail "studies row anynet: $out"
[ "$(Q studies --csv | sed -n 2p | cut -d, -f1-12)" = "regnet,regnetx,6,1,1,3,1,0,9.75,12.5,3,0.00852777777777778" ] ||
    fail "studies --csv: $(Q studies --csv)"
# the span runs from the first trial's start to the last one's end, whatever their order
DBS="$TMP/span.db"
rm -f "$DBS" "$DBS-wal" "$DBS-shm"
sqlite3 "$DB" ".backup '$DBS'" &&
    sqlite3 "$DBS" "UPDATE trials SET started = 1000, ended = 1000 + 3600 * trial WHERE study_id = 1
                      AND ended IS NOT NULL; UPDATE trials SET started = 500 WHERE trial = 4" ||
    fail "making a db with known times"
out=$("$NETSPACE" query --db "$DBS" studies --csv | sed -n 2p | cut -d, -f13)
[ "$out" = "3.13888888888889" ] || fail "span_h, (1000 + 3 * 3600 - 500) / 3600: $out"

# trials: filter, sort, limit, columns
out=$(Q trials --study regnet --state complete --sort test_error --columns trial,test_error --csv)
[ "$out" = "$(printf 'trial,test_error\n1,9.75\n0,12.5\n3,15')" ] || fail "sorted complete trials: $out"
out=$(Q trials --study regnet --sort test_error --desc --limit 2 --columns trial --csv)
[ "$out" = "$(printf 'trial\n3\n0')" ] || fail "--desc --limit (missing errors last): $out"
out=$(Q trials --study regnet --where "flops < 4e8 AND depth >= 10" --columns trial,flops --csv)
[ "$out" = "$(printf 'trial,flops\n0,300000000\n3,200000000')" ] || fail "--where: $out"
out=$(Q trials --csv --columns study,trial | tail -n +2 | tr '\n' ' ')
[ "$out" = "regnet,0 regnet,1 regnet,2 regnet,3 regnet,4 regnet,5 anynet,0 anynet,1 anynet,2 " ] ||
    fail "all studies: $out"
out=$(Q trials --study regnet --state failed --columns trial,reason)
echo "$out" | grep -q "2  diverged: loss nan at epoch 2 step 31" || fail "failed reason: $out"
[ "$(Q trials --study anynet | wc -l)" = 4 ] || fail "aligned table: header + 3 rows"

# --json: one object per line with the documented keys
out=$(Q trials --study regnet --state complete --json)
[ "$(echo "$out" | wc -l)" = 3 ] || fail "--json lines"
for key in '"study":"regnet"' '"trial":1' '"state":"complete"' '"config_hash":"' '"test_error":9.75' \
    '"flops":500000000' '"params":12500000'; do
    echo "$out" | grep -q "$key" || fail "--json lacks $key: $out"
done

# best: needs a study here (two studies), default 10, -k
expect_fail 1 "2 studies (regnet, anynet); name one with --study" Q best
out=$(Q best --study anynet -k 2 --columns trial,test_error --csv)
[ "$out" = "$(printf 'trial,test_error\n1,18\n0,20')" ] || fail "best -k 2: $out"
[ "$(Q best --study regnet --csv --columns trial | wc -l)" = 4 ] || fail "best: only complete trials"

# show: config, complexity, per-epoch curve
out=$(Q show 1 --study regnet) || fail "show"
echo "$out" | grep -q '^flops  *500000000 (500M)$' || fail "show flops: $out"
echo "$out" | grep -q '^config  *{"block":"x"' || fail "show config: $out"
echo "$out" | grep -Eq '^ +2 +0\.3 +10\.00 +9\.75 +10\.2$' || fail "show epochs: $out"
Q show 5 --study regnet | grep -q "no epochs recorded" || fail "show without epochs"
Q show 1 --study regnet --json | grep -q '"epochs":\[{"epoch":0,' || fail "show --json epochs"

# export: all trials, all columns
[ "$(Q export --study anynet | wc -l)" = 4 ] || fail "export csv"
Q export --study anynet | head -1 | grep -q "^study,study_id,trial,stream,state,config," || fail "export header"
Q export --study anynet --json | head -1 | grep -q '"other_params":{"lr":0.05}' || fail "export json"

# sql: read-only
[ "$(Q sql "SELECT count(*) AS n FROM trials WHERE state = 'complete'" --csv)" = "$(printf 'n\n6')" ] ||
    fail "sql select"
expect_fail 1 "only read-only statements" Q sql "DELETE FROM trials"
expect_fail 1 "one statement only" Q sql "SELECT 1; DELETE FROM trials"
expect_fail 1 "no such column 'study'; the tables are trials (study_id, trial" Q sql "SELECT config FROM trials WHERE study = 'a'"
expect_fail 1 "--where: a ')' without its '('" Q trials --where "1); DELETE FROM trials; --"
expect_fail 1 "" Q sql "PRAGMA query_only = 0"
expect_fail 1 "" Q sql "ATTACH '$TMP/other.db' AS o"
[ ! -e "$TMP/other.db" ] || fail "ATTACH created a file"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM trials')" = 9 ] || fail "the db was modified"

# errors name the thing and list what exists
expect_fail 1 "study 'nope' not found; studies: regnet, anynet" Q trials --study nope
expect_fail 2 "unknown state 'done'; states: waiting, running, complete, failed, stale" Q trials --state done
expect_fail 1 "--sort: unknown column 'errr'; columns: study, study_id, trial," Q trials --sort errr
expect_fail 1 "unknown column 'bogus'; columns: study, study_id, trial," Q trials --columns trial,bogus
expect_fail 1 "--where: unknown column 'flop'; columns: study," Q trials --where "flop < 1"
expect_fail 1 "$TMP/missing.db: no such file" "$NETSPACE" query --db "$TMP/missing.db" studies
expect_fail 1 "study 'anynet' has no trial 9" Q show 9 --study anynet
echo "not a db" >"$TMP/text.db"
expect_fail 1 "not an SQLite database" "$NETSPACE" query --db "$TMP/text.db" studies
expect_fail 2 "--db FILE is required" "$NETSPACE" query studies
expect_fail 2 "unknown command 'frob'" Q frob
expect_fail 2 "--sort does not apply to 'studies'" Q studies --sort trial
expect_fail 2 "--csv and --json" Q trials --csv --json

# --where only narrows what the other options select: it cannot close its parentheses,
# comment out the rest or end the statement; parentheses inside quotes are text
expect_fail 1 "--where: a ')' without its '('" Q trials --study regnet --where "1) OR (1) /*"
expect_fail 1 "--where: comments ('/*')" Q trials --study regnet --where "(1) /* x */"
expect_fail 1 "--where: comments ('--')" Q trials --study regnet --where "1 --"
expect_fail 1 "--where: 1 '(' not closed" Q trials --where "(1"
expect_fail 1 "--where: unterminated '" Q trials --where "reason = 'x"
[ "$(Q trials --study regnet --state complete --where "1 OR 1" --columns trial --csv | wc -l)" = 4 ] ||
    fail "--where widened the selection"
[ "$(Q trials --study regnet --where "coalesce(reason, ')(') = ')(' OR \"trial\" = 0" --columns trial --csv | wc -l)" = 6 ] ||
    fail "--where: parentheses in quotes"

# limits: an endless query stops at the time limit or the memory cap with a clear error;
# rows stream as they are read (a listing piped to head ends at once, holding nothing)
ENDLESS="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
expect_fail 1 "sql: stopped after 1 s (the time limit; --timeout raises it)" Q sql "$ENDLESS" --timeout 1
expect_fail 1 "needs more than 16 MB of memory (the memory cap; --max-memory raises it)" \
    Q sql "$ENDLESS ORDER BY x DESC" --max-memory 16
out=$(timeout 30 "$NETSPACE" query --db "$DB" sql "$ENDLESS" --csv --timeout 0 | head -n 200001 | tail -n 1)
[ "$out" = 200000 ] || fail "sql rows are not streamed (got '$out')"
out=$(timeout 30 "$NETSPACE" query --db "$DB" sql "$ENDLESS" --timeout 0 | head -n 2001 | tail -n 1)
[ "$(echo $out)" = 2000 ] || fail "table rows are not streamed (got '$out')"
expect_fail 2 "--timeout: 'x' is not a number" Q sql "SELECT 1" --timeout x
expect_fail 2 "--db needs a value" "$NETSPACE" query studies --db

# control characters from a db reach no terminal raw in table output
DBC="$TMP/ctl.db"
rm -f "$DBC" "$DBC-wal" "$DBC-shm"
sqlite3 "$DB" ".backup '$DBC'" &&
    sqlite3 "$DBC" "UPDATE studies SET name = 'an' || char(27) || '[31m' || char(7) WHERE id = 2;
                    UPDATE trials SET reason = 'a' || char(10) || 'b' WHERE study_id = 1" ||
    fail "making a db with control characters"
out=$("$NETSPACE" query --db "$DBC" studies)
case "$out" in *$'\e'* | *$'\a'*) fail "studies printed a raw control character" ;; esac
echo "$out" | grep -qF 'an\x1b[31m\x07' || fail "studies: escaped name missing: $out"
out=$("$NETSPACE" query --db "$DBC" trials --columns study,reason)
echo "$out" | grep -qF 'a\nb' || fail "trials: escaped newline missing: $out"
"$NETSPACE" query --db "$DBC" trials --columns study --json | grep -qF '"an\u001B[31m\u0007"' ||
    fail "json: control characters not escaped"

# a finished db in a folder the reader cannot write is read, and a reader leaves no -wal or
# -shm file behind (they would belong to the reader and block the owner's next search)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    RO="$TMP/rofolder"
    rm -rf "$RO" && mkdir -p "$RO" && cp "$DB" "$RO/r.db" && chmod 444 "$RO/r.db" && chmod 555 "$RO"
    as_other() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    as_other "$NETSPACE" query --db "$RO/r.db" studies >/dev/null ||
        fail "query of a db in a read-only folder"
    chmod 777 "$RO"
    as_other "$NETSPACE" query --db "$RO/r.db" trials --where "flops > 0" >/dev/null ||
        fail "query of a mode-444 db as another user"
    [ ! -e "$RO/r.db-wal" ] && [ ! -e "$RO/r.db-shm" ] || fail "a reader left -wal/-shm files"
    chmod 755 "$RO"
else
    echo "skipped: the other-user checks need root and setpriv"
fi

# a db with one study needs no --study
DB1="$TMP/one.db"
rm -f "$DB1" "$DB1-wal" "$DB1-shm"
sqlite3 "$DB" ".backup '$DB1'" && sqlite3 "$DB1" "DELETE FROM epochs; DELETE FROM trials WHERE study_id = 2; DELETE FROM studies WHERE id = 2" ||
    fail "making a one-study db"
"$NETSPACE" query --db "$DB1" best --columns trial --csv | sed -n 2p | grep -qx 1 || fail "best, only study"
"$NETSPACE" query --db "$DB1" show 0 | grep -q "^study  *regnet" || fail "show, only study"
echo "ok"
