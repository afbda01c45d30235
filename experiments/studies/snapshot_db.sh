#!/usr/bin/env bash
# A consistent, compact copy of a results db, also of one that a running study is writing
# (SQLite's online backup: the copy is the db as of one moment, its write-ahead log
# included), made to be committed or shared while the study goes on:
#   - trials that were running become 'stale', with the attempt they were on given back
#     (as a stopped search gives it back): a search on the copy trains them again (from
#     their checkpoint if one is kept, else from scratch, to the same bits); their
#     finished epochs stay, and so do every other trial's rows;
#   - checkpoints are dropped (--keep-checkpoints keeps them: a multi-fidelity study's
#     trials waiting for promotion continue from theirs, else retrain from epoch 1), and
#     kept weights too (--keep-weights keeps them);
#   - the copy is vacuumed and checked (PRAGMA integrity_check).
# The db itself is only read (opened read-only). OUT must not exist.
# Usage: experiments/studies/snapshot_db.sh DB OUT [--keep-weights] [--keep-checkpoints]
set -euo pipefail
me=$(basename "$0")
usage() {
    sed -n '2,/^# Usage/p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}
keepw=0 keepc=0 args=()
for a in "$@"; do
    case $a in
    -h | --help) usage 0 ;;
    --keep-weights) keepw=1 ;;
    --keep-checkpoints) keepc=1 ;;
    -*) echo "$me: unknown option $a" >&2; usage ;;
    *) args+=("$a") ;;
    esac
done
[ ${#args[@]} = 2 ] || usage
db=${args[0]} out=${args[1]}
command -v sqlite3 >/dev/null || { echo "$me: needs the sqlite3 command (Debian: sqlite3)" >&2; exit 1; }
[ -f "$db" ] || { echo "$me: $db: no such file" >&2; exit 1; }
[ ! -e "$out" ] || { echo "$me: $out exists; remove it first or name another" >&2; exit 1; }
dir=$(dirname -- "$out")
[ -d "$dir" ] && [ -w "$dir" ] || { echo "$me: $dir: no such folder, or not writable" >&2; exit 1; }
case $out in *"'"*) echo "$me: $out: a name with a single quote is not supported" >&2; exit 1 ;; esac
tmp="$out.part.$$"
trap 'rm -f "$tmp" "$tmp-journal" "$tmp-wal" "$tmp-shm"' EXIT
# read-only: the db's -wal is read, not folded into it; waits up to 60 s for a writer's
# lock; a db that is not SQLite fails here
sqlite3 -readonly -bail "$db" ".timeout 60000" ".backup '$tmp'" ||
    { echo "$me: $db: could not be read as an SQLite db (or stayed locked for 60 s)" >&2; exit 1; }
has=$(sqlite3 "$tmp" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
    ('trials', 'studies', 'epochs', 'checkpoints', 'weights')")
[ "$has" = 5 ] || { echo "$me: $db: not a netspace results db (no trials, studies, epochs, checkpoints and weights tables)" >&2; exit 1; }
running=$(sqlite3 "$tmp" "SELECT count(*) FROM trials WHERE state = 'running'")
rungs=$(sqlite3 "$tmp" "SELECT count(*) FROM sqlite_master WHERE name = 'rungs'")
[ "$rungs" = 1 ] && rungs=$(sqlite3 "$tmp" "SELECT count(*) FROM rungs")
ckpts=$(sqlite3 "$tmp" "SELECT count(*) FROM checkpoints")
weights=$(sqlite3 "$tmp" "SELECT count(*) FROM weights")
drop=""
[ $keepc = 1 ] || drop="$drop DELETE FROM checkpoints;"
[ $keepw = 1 ] || drop="$drop DELETE FROM weights;"
sqlite3 -bail "$tmp" "BEGIN; UPDATE trials SET state = 'stale', attempts = max(attempts - 1, 0)
    WHERE state = 'running';$drop COMMIT; VACUUM;" >/dev/null
check=$(sqlite3 "$tmp" "PRAGMA integrity_check")
[ "$check" = ok ] || { echo "$me: the copy of $db failed its integrity check: $check" >&2; exit 1; }
mv "$tmp" "$out"
trap - EXIT
states=$(sqlite3 -separator ' ' "$out" "SELECT count(*), state FROM trials GROUP BY state
    ORDER BY state" | paste -sd, - | sed 's/,/, /g')
echo "$out: $(stat -c %s "$out") bytes; trials: $states; $running running marked stale;" \
    "checkpoints: $ckpts $([ $keepc = 1 ] && echo kept || echo dropped);" \
    "weights: $weights $([ $keepw = 1 ] && echo kept || echo dropped)"
if [ $keepc = 0 ] && [ "$ckpts" -gt 0 ] && [ "$rungs" -gt 0 ]; then
    echo "$me: note: a multi-fidelity study: its trials waiting for promotion will retrain" \
        "from epoch 1 on a resumed copy (--keep-checkpoints keeps their checkpoints)" >&2
fi
