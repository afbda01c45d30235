#!/usr/bin/env bash
# experiments/studies/snapshot_db.sh: a clean copy of a results db for committing while its
# study runs. The copy has the db's studies, trials and epoch rows; trials that were running
# are 'stale'; checkpoints and weights are dropped unless kept; the db itself is unchanged;
# a search on the copy trains the stale trial again to the results the original run had.
# Bad input (no db, not SQLite, not a results db, an existing OUT, bad options) is refused
# with a message and nothing written.
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
rm -rf "$TMP" && mkdir -p "$TMP"
cd "$TMP" || exit 1
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
command -v sqlite3 >/dev/null || { echo "no sqlite3 command: skipped"; exit 77; }
. "$SRC/tests/search/helpers.sh" # q, results, epochs_of
snap="$SRC/experiments/studies/snapshot_db.sh"

"$snap" --help | grep -q "Usage: experiments/studies/snapshot_db.sh DB OUT" || fail "--help"
"$snap" >/dev/null 2>&1; [ $? = 2 ] || fail "no arguments: a usage error"
"$snap" a.db b.db --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "unknown option: a usage error"

cat >exp.json <<EOF
{"name": "snap", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 3, "seed": 5,
 "data": {"name": "synthetic", "n": 256},
 "recipe": {"epochs": 2, "batch": 32, "lr": 0.1}, "keep_weights": 1}
EOF
"$NETSPACE" search --experiment exp.json --db s.db >/dev/null 2>&1 || fail "search"
results s.db >want_results
epochs_of s.db >want_epochs
[ "$(q s.db "select count(*) from weights")" = 1 ] || fail "keep_weights 1 kept no weights"

# as if the study were still running trial 2 (its second attempt), with a checkpoint after
# its first epoch, all of it in the write-ahead log only (as a running search leaves it; a
# copy of the db file alone would miss it)
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }
python3 - <<'PY' || fail "setup"
import os, sqlite3
c = sqlite3.connect("s.db", isolation_level=None)
c.execute("pragma wal_autocheckpoint = 0")
c.execute("update trials set state = 'running', attempts = 2 where trial = 2")
c.execute("insert into checkpoints select id, 2, 1, x'00' from studies")
os._exit(0)  # no close: the changes stay in s.db-wal
PY
[ -s s.db-wal ] || fail "setup: no write-ahead log"
before=$(sha256sum s.db s.db-wal)

out=$("$snap" s.db c.db) || fail "snapshot: $out"
echo "$out" | grep -q "c.db: .* 1 running marked stale; checkpoints: 1 dropped; weights: 1 dropped" ||
    fail "summary line: $out"
[ "$(sha256sum s.db s.db-wal)" = "$before" ] || fail "the db or its log changed"
[ "$(q c.db "select state, attempts from trials where trial = 2")" = "stale|1" ] ||
    fail "trial 2: not stale with its attempt given back: $(q c.db "select * from trials where trial = 2")"
[ "$(q c.db "select count(*) from trials where state = 'complete'")" = 2 ] || fail "complete"
[ "$(q c.db "select count(*) from checkpoints") $(q c.db "select count(*) from weights")" = "0 0" ] ||
    fail "checkpoints or weights left"
cmp -s <(epochs_of c.db) want_epochs || fail "epoch rows differ from the db's"
[ "$(q c.db "pragma integrity_check")" = ok ] || fail "integrity"
ls c.db.part.* >/dev/null 2>&1 && fail "a partial file was left"

# a search on the copy trains the stale trial again: the original run's results
"$NETSPACE" search --experiment exp.json --db c.db >/dev/null 2>&1 || fail "resume on the copy"
cmp -s <(results c.db) want_results || fail "the copy's resumed results differ from the run's"
cmp -s <(epochs_of c.db) want_epochs || fail "the copy's resumed epochs differ from the run's"

out=$("$snap" s.db k.db --keep-weights --keep-checkpoints) || fail "snapshot keeping: $out"
[ "$(q k.db "select count(*) from checkpoints") $(q k.db "select count(*) from weights")" = "1 1" ] ||
    fail "--keep-*: not kept"

# refusals: an existing OUT (left as it was), no db, not SQLite, not a results db
out=$("$snap" s.db c.db 2>&1); [ $? = 1 ] || fail "existing OUT: exit"
echo "$out" | grep -q "c.db exists" || fail "existing OUT: $out"
out=$("$snap" none.db n.db 2>&1); [ $? = 1 ] || fail "missing db: exit"
echo "$out" | grep -q "none.db: no such file" || fail "missing db: $out"
echo "not a db" >text.db
out=$("$snap" text.db t.db 2>&1); [ $? = 1 ] || fail "text file: exit"
echo "$out" | grep -q "text.db: could not be read as an SQLite db" || fail "text file: $out"
sqlite3 other.db "create table x(a)"
out=$("$snap" other.db o.db 2>&1); [ $? = 1 ] || fail "other db: exit"
echo "$out" | grep -q "other.db: not a netspace results db" || fail "other db: $out"
out=$("$snap" s.db nodir/x.db 2>&1); [ $? = 1 ] || fail "missing folder: exit"
echo "$out" | grep -q "nodir: no such folder, or not writable" || fail "missing folder: $out"
for f in n.db t.db o.db; do [ ! -e $f ] || fail "$f was written"; done
[ "$(sha256sum s.db s.db-wal)" = "$before" ] || fail "the db or its log changed"
ls ./*.part.* >/dev/null 2>&1 && fail "partial files left"
echo "snapshot_db: ok"
