#!/usr/bin/env bash
# netspace export: a trial's kept weights out of a results db, byte for byte, loadable by
# netspace train --load; a trial without kept weights, a missing trial and a schema-2 db
# give errors that name the trial and say how to keep weights.
set -u
mkdir -p "$TMP"
cd "$TMP" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
ns() { "$NETSPACE" "$@"; }
command -v sqlite3 >/dev/null || { echo "no sqlite3 command: skipped"; exit 77; }

ns export --help | grep -q -- "--trial N" || fail "export --help"
ns --help 2>&1 | grep -q "export" || fail "netspace --help does not list export"
ns export --db x.db >/dev/null 2>&1; [ $? = 2 ] || fail "missing --trial/--out must be a usage error"
ns export --db x.db --trial 1 --out o --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "unknown option"

cat >exp.json <<EOF
{"name": "ex", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 2, "seed": 3,
 "data": {"name": "synthetic", "n": 256},
 "recipe": {"epochs": 1, "batch": 32, "lr": 0.1}}
EOF
rm -f ex.db* ./*.ckpt
ns search --experiment exp.json --db ex.db >/dev/null 2>&1 || fail "search"
[ "$(sqlite3 ex.db 'select schema_version from netspace_version')" = 3 ] || fail "schema 3"

# no weights kept yet: the error names the trial and keep_weights
out=$(ns export --db ex.db --trial 1 --out w.ckpt 2>&1); rc=$?
[ $rc = 1 ] || fail "no weights: exit $rc"
echo "$out" | grep -q "ex.db: trial 1 has no kept weights" || fail "no weights message: $out"
echo "$out" | grep -q '"keep_weights"' || fail "no weights: how to keep them: $out"
[ ! -e w.ckpt ] || fail "a file was written without weights"

# the trial's weights, put in as a search would keep them (a weights-only checkpoint)
ns train --db ex.db --trial 1 --epochs 1 --batch 32 --quiet --save t1.ckpt --weights-only \
    >/dev/null || fail "train trial 1"
sqlite3 ex.db "insert into weights values (1, 1, 1, readfile('t1.ckpt'))" || fail "insert"
out=$(ns export --db ex.db --trial 1 --out w.ckpt) || fail "export: $out"
cmp -s w.ckpt t1.ckpt || fail "exported bytes differ from the kept ones"
echo "$out" | grep -q "w.ckpt: trial 1's weights after epoch 1" || fail "export line: $out"
ns train --data synthetic --load w.ckpt --eval-only --quiet --json | tail -n 1 |
    grep -q '"status":"complete"' || fail "train --load of the export"
# another trial: the trials with weights are listed
out=$(ns export --db ex.db --trial 0 --out w0.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "trials with weights: 1" || fail "trial 0: $rc $out"
out=$(ns export --db ex.db --trial 7 --out w7.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "no trial 7" || fail "trial 7: $rc $out"
out=$(ns export --db ex.db --trial 1 --checkpoint --out c.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "trial 1 has no checkpoint" || fail "--checkpoint: $rc $out"

# damaged kept bytes are refused, not written out
sqlite3 ex.db "update weights set bytes = substr(bytes, 1, 100) where trial = 1" || fail "update"
out=$(ns export --db ex.db --trial 1 --out bad.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "trial 1's weights: truncated" || fail "damaged: $rc $out"
[ ! -e bad.ckpt ] || fail "damaged weights were written"

# a schema-2 db (before weights existed) is read without migrating it
sqlite3 ex.db "drop table weights; drop table checkpoints; update netspace_version set schema_version = 2"
out=$(ns export --db ex.db --trial 1 --out w.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "trial 1 has no kept weights" || fail "schema 2: $rc $out"
[ "$(sqlite3 ex.db 'select schema_version from netspace_version')" = 2 ] || fail "reader migrated"
echo ok
