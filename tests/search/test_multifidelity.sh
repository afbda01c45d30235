#!/usr/bin/env bash
# Multi-fidelity search (issue #15) end to end, on a tiny synthetic study:
#  - successive halving alone: the rungs (8, 4, 2 trials at 1, 2, 4 epochs), the epochs spent,
#    the kept weights of the best K, no checkpoint left; `query rungs` shows them;
#  - a rung's error is the error at that epoch of the full-budget run: the top-rung trials'
#    epoch rows equal those of a random search training them for all epochs at once;
#  - the same promotions, epoch rows and kept weights on 2 workers (mpirun -np 3; trials in
#    child processes or on a thread), and after a kill -9 of the job mid-study and a resume;
#  - Hyperband: its brackets, the same on 1 and 2 workers, the note of a test-set selection;
#  - ASHA on 2 workers, killed and resumed: its recorded promotions are continued (each
#    promoted trial finished the rung below; one trial reaches the full budget);
#  - "checkpoint_every": a lone search killed mid-trial resumes that trial from its last
#    checkpoint (its earlier epoch rows are kept, not retrained) to the uninterrupted
#    results.
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$TMP" && mkdir -p "$TMP"
MPIRUN=(mpirun -np 3 --oversubscribe)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
. "$SRC/tests/search/helpers.sh" # q, epochs_of, wait_gone, wait_sql
rungs_of() { q "$1" "select trial, rung, epochs, test_error, trained from rungs order by 1, 2"; }
weights_of() { q "$1" "select trial, epoch, hex(bytes) from weights order by 1"; }
same() { # db what: rungs, epoch rows and kept weights equal the reference run's
    diff <(rungs_of "$REF") <(rungs_of "$1") >"$TMP/diff" || { cat "$TMP/diff" >&2; fail "$2: rungs differ"; }
    diff <(epochs_of "$REF") <(epochs_of "$1") >"$TMP/diff" || { cat "$TMP/diff" >&2; fail "$2: epoch rows differ"; }
    diff <(weights_of "$REF") <(weights_of "$1") >/dev/null || fail "$2: kept weights differ"
}
experiment() { # file name kind extra
    cat >"$1" <<EOF
{"name": "$2", "space": "$SRC/spaces/tiny_regnetx.json", "samples": ${SAMPLES:-8}, "seed": 5,
 "constraints": {"flops": [null, 6e5]},
 "data": {"name": "synthetic", "n": 256, "n_test": 64, "size": 16, "val_split": 0.25},
 "recipe": {"batch": 32, "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 5e-4,
            "epochs": 4},
 $3 "threads": 1}
EOF
}

# --- 1. SHA alone ---------------------------------------------------------------------------
experiment "$TMP/sha.json" sha '"search": {"kind": "sha", "eta": 2}, "keep_weights": 2,'
REF="$TMP/ref.db"
"$NETSPACE" search --experiment "$TMP/sha.json" --db "$REF" --quiet >"$TMP/ref.out" 2>&1 ||
    { cat "$TMP/ref.out"; fail "sha alone failed"; }
[ "$(q "$REF" "select group_concat(n) from (select rung, count(*) n from rungs where
        test_error is not null group by rung order by rung)")" = "8,4,2" ] ||
    fail "sha: rungs $(q "$REF" "select rung, count(*) from rungs group by 1")"
[ "$(q "$REF" "select group_concat(epochs) from (select distinct rung, epochs from rungs order by 1)")" = "1,2,4" ] ||
    fail "sha: rung epochs"
# 8 x 1 + 4 x 1 + 2 x 2 epochs: promoted trials continue, they do not retrain
grep -q "16 epochs spent" "$TMP/ref.out" || { cat "$TMP/ref.out"; fail "sha: epochs spent"; }
top=$(q "$REF" "select trial from rungs where rung = 2 order by test_error, trial limit 1")
maxtop=$(q "$REF" "select max(trial) from rungs where rung = 2")
grep -q "best top-rung validation error .* (trial $top)" "$TMP/ref.out" || { cat "$TMP/ref.out"; fail "sha: best"; }
grep -q "note: rungs were selected on the test set" "$TMP/ref.out" &&
    fail "sha: a test-set note for a study with a validation split"
# the promoted are the best of their rung (ties by index)
for r in 0 1; do
    want=$(q "$REF" "select group_concat(trial) from (select trial from rungs where rung = $r
        order by test_error, trial limit (select count(*) from rungs where rung = $r) / 2)")
    [ "$want" != "" ] || want=$(q "$REF" "select trial from rungs where rung = $r order by test_error, trial limit 1")
    got=$(q "$REF" "select group_concat(trial) from (select trial from rungs where rung = $((r + 1)) order by 1)")
    [ "$(echo "$want" | tr , '\n' | sort -n | tr '\n' ,)" = "$(echo "$got" | tr , '\n' | sort -n | tr '\n' ,)" ] ||
        fail "sha: rung $((r + 1)) holds $got, not the best of rung $r ($want)"
done
[ "$(q "$REF" "select group_concat(trial) from weights")" = "$(q "$REF" "select group_concat(trial) from
        (select trial from rungs where rung = 2 order by 1)")" ] || fail "sha: kept weights (2 full-budget trials)"
[ "$(q "$REF" "select count(*) from checkpoints")" = 0 ] || fail "sha: checkpoints left behind"
[ "$(q "$REF" "select count(*) from epochs where trial = $top")" = 4 ] || fail "sha: top trial's epoch rows"
out=$("$NETSPACE" query --db "$REF" rungs) || fail "query rungs"
echo "$out" | grep -q "^epochs spent: 16$" || fail "query rungs: no total: $out"
echo "$out" | grep -Eq "^ +$top +2 +4 " || fail "query rungs: no top rung row: $out"
"$NETSPACE" query --db "$REF" show "$top" | grep -q "promoted" || fail "query show: no rungs"
"$NETSPACE" query --db "$REF" show "$top" --json | grep -q '"rungs":\[{' || fail "query show --json: no rungs"
# a rerun of the finished study trains nothing
cp "$REF" "$TMP/ref2.db"
"$NETSPACE" search --experiment "$TMP/sha.json" --db "$TMP/ref2.db" --quiet >"$TMP/o" 2>&1 || fail "rerun"
grep -q "this run: 0 rungs" "$TMP/o" || { cat "$TMP/o"; fail "rerun of a finished study trained"; }
same "$TMP/ref2.db" "rerun"
# a multi-fidelity study cannot grow (its rungs were sized for its samples)
sed 's/"samples": 8/"samples": 9/' "$TMP/sha.json" >"$TMP/sha9.json"
"$NETSPACE" search --experiment "$TMP/sha9.json" --db "$TMP/ref2.db" --quiet >"$TMP/o" 2>&1 &&
    fail "a multi-fidelity study grew"
grep -q "a multi-fidelity study cannot grow" "$TMP/o" || { cat "$TMP/o"; fail "growing: no clear message"; }

# --- 2. a rung's error is the full-budget run's at that epoch -------------------------------
# (the promoted trials up to the last top-rung one: a random search of that many trains them)
SAMPLES=$((maxtop + 1)) experiment "$TMP/full.json" full ''
"$NETSPACE" search --experiment "$TMP/full.json" --db "$TMP/full.db" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "random search of the same trials failed"; }
for t in $(q "$REF" "select distinct trial from rungs where rung >= 1 and trial <= $maxtop"); do
    k=$(q "$REF" "select count(*) from epochs where trial = $t")
    diff <(q "$REF" "select epoch, train_loss, test_error from epochs where trial = $t order by 1") \
        <(q "$TMP/full.db" "select epoch, train_loss, test_error from epochs where trial = $t and
            epoch < $k order by 1") >"$TMP/diff" ||
        { cat "$TMP/diff" >&2; fail "trial $t: its rungs' epochs differ from the full-budget run's"; }
done

# --- 3. two workers, then kill -9 and resume ------------------------------------------------
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/sha.json" --db "$TMP/mpi.db" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "sha on 2 workers failed"; }
same "$TMP/mpi.db" "sha on 2 workers"
# the same with the workers training on a thread instead of a child process
sed 's/"threads": 1}/"limits": {"isolate": false}, "threads": 1}/' "$TMP/sha.json" >"$TMP/sha_ni.json"
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/sha_ni.json" --db "$TMP/ni.db" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "sha on 2 workers without isolation failed"; }
same "$TMP/ni.db" "sha on 2 workers without isolation"
# kill_early EXPERIMENT DB TOO_LATE_SQL WHAT: run the study on two workers and kill -9 it
# once its first rung row is in the db; TOO_LATE_SQL (a count) says the kill came too late
# for the resume to mean anything. A loaded machine can let the study run on between the
# poll and the kill, so that run is thrown away and tried again, three times at most.
# (In its own session, killed whole: every rank dies at once, as with a node's power; a
# SIGKILL to mpirun alone leaves the ranks, each in its own process group, running until
# they notice.)
kill_early() {
    for try in 1 2 3; do
        rm -f "$2" "$2-wal" "$2-shm"
        setsid "${MPIRUN[@]}" "$NETSPACE" search --experiment "$1" --db "$2" --quiet >"$TMP/kill.out" 2>&1 &
        pid=$!
        wait_sql "$2" "select count(*) from rungs"
        pkill -KILL -s $pid
        wait $pid 2>/dev/null
        wait_gone "$2"
        [ "$(q "$2" "$3")" = 0 ] && return 0
        echo "note: $4: kill -9 came too late (try $try of 3)" >&2
    done
    fail "$4: kill -9 came too late three times"
}
DB="$TMP/kill.db"
kill_early "$TMP/sha.json" "$DB" "select count(*) from rungs where rung = 2 and test_error is not null" sha
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/sha.json" --db "$DB" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "resume after kill -9 failed"; }
same "$DB" "sha resumed after kill -9"
[ "$(q "$DB" "select count(*) from checkpoints")" = 0 ] || fail "resumed sha: checkpoints left"

# --- 3b. Hyperband: the same on 1 and 2 workers; without a validation split it says so ----
sed 's/"kind": "sha"/"kind": "hyperband"/; s/, "val_split": 0.25//' "$TMP/sha.json" >"$TMP/hb.json"
"$NETSPACE" search --experiment "$TMP/hb.json" --db "$TMP/hb1.db" --quiet >"$TMP/hb1.out" 2>&1 ||
    { cat "$TMP/hb1.out"; fail "hyperband alone failed"; }
grep -q "note: rungs were selected on the test set" "$TMP/hb1.out" ||
    { cat "$TMP/hb1.out"; fail "hyperband on the test set: no note"; }
grep -q "best top-rung test error" "$TMP/hb1.out" || { cat "$TMP/hb1.out"; fail "hyperband: 'test error'"; }
# 3 brackets starting at rungs 0, 1 and 2
[ "$(q "$TMP/hb1.db" "select group_concat(r) from (select min(rung) r from rungs group by trial
        order by trial)" | tr , '\n' | sort -un | tr '\n' ,)" = "0,1,2," ] || fail "hyperband: brackets"
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/hb.json" --db "$TMP/hb2.db" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "hyperband on 2 workers failed"; }
diff <(rungs_of "$TMP/hb1.db") <(rungs_of "$TMP/hb2.db") >/dev/null || fail "hyperband: rungs differ on 2 workers"
diff <(epochs_of "$TMP/hb1.db") <(epochs_of "$TMP/hb2.db") >/dev/null || fail "hyperband: epoch rows differ"

# --- 4. ASHA on two workers, killed and resumed ---------------------------------------------
experiment "$TMP/asha.json" asha '"search": {"kind": "asha", "eta": 2},'
DB="$TMP/asha.db"
kill_early "$TMP/asha.json" "$DB" "select count(*) >= 8 from rungs where rung = 0 and test_error is not null" asha
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/asha.json" --db "$DB" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "asha resume failed"; }
[ "$(q "$DB" "select count(*) from rungs where test_error is null")" = 0 ] ||
    fail "asha: a recorded promotion was not trained"
[ "$(q "$DB" "select count(*) from rungs a where rung > 0 and not exists (select 1 from rungs b
        where b.trial = a.trial and b.rung = a.rung - 1 and b.test_error is not null)")" = 0 ] ||
    fail "asha: a trial promoted without finishing the rung below"
[ "$(q "$DB" "select count(*) from rungs where rung = 0")" = 8 ] || fail "asha: not every trial ran rung 0"
[ "$(q "$DB" "select count(*) from rungs where rung = 2")" -ge 1 ] || fail "asha: nothing reached the full budget"
[ "$(q "$DB" "select count(*) from trials where state != 'complete'")" = 0 ] || fail "asha: unfinished trials"
[ "$(q "$DB" "select count(*) from checkpoints")" = 0 ] || fail "asha: checkpoints left"

# --- 5. checkpoint_every: a killed trial resumes from its last epoch ------------------------
cat >"$TMP/ck.json" <<EOF
{"name": "ck", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 2, "seed": 5,
 "constraints": {"flops": [null, 6e5]},
 "data": {"name": "synthetic", "n": 768, "n_test": 64, "size": 16},
 "recipe": {"batch": 32, "lr": 0.1, "momentum": 0.9, "epochs": 3},
 "checkpoint_every": 1, "keep_weights": 1, "threads": 1}
EOF
"$NETSPACE" search --experiment "$TMP/ck.json" --db "$TMP/ck_ref.db" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "checkpoint_every: reference run failed"; }
[ "$(q "$TMP/ck_ref.db" "select count(*) from checkpoints")" = 0 ] || fail "checkpoint_every: checkpoints left"
# random search keeps the best trial's weights too
[ "$(q "$TMP/ck_ref.db" "select trial from weights")" = "$(q "$TMP/ck_ref.db" "select trial from trials
    order by test_error, trial limit 1")" ] || fail "keep_weights: not the best trial's weights"
DB="$TMP/ck.db"
"$NETSPACE" search --experiment "$TMP/ck.json" --db "$DB" --quiet >"$TMP/o" 2>&1 &
pid=$!
wait_sql "$DB" "select count(*) from trials t where state = 'running' and
    (select count(*) from checkpoints c where c.trial = t.trial) > 0"
kill -KILL $pid
wait $pid 2>/dev/null
wait_gone "$DB"
t=$(q "$DB" "select trial from trials where state = 'running' limit 1")
[ -n "$t" ] || fail "checkpoint_every: no trial was running at the kill"
e=$(q "$DB" "select epoch from checkpoints where trial = $t")
kept=$(q "$DB" "select epoch, seconds from epochs where trial = $t and epoch < $e order by 1")
[ -n "$kept" ] || fail "checkpoint_every: no epoch before the checkpoint"
"$NETSPACE" search --experiment "$TMP/ck.json" --db "$DB" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "checkpoint_every: resume failed"; }
diff <(q "$TMP/ck_ref.db" "select trial, state, train_error, test_error from trials order by 1") \
    <(q "$DB" "select trial, state, train_error, test_error from trials order by 1") ||
    fail "checkpoint_every: the resumed study's results differ"
diff <(epochs_of "$TMP/ck_ref.db") <(epochs_of "$DB") || fail "checkpoint_every: epoch rows differ"
# the epochs before the checkpoint were not trained again (their rows, timings included, stayed)
[ "$(q "$DB" "select epoch, seconds from epochs where trial = $t and epoch < $e order by 1")" = "$kept" ] ||
    fail "checkpoint_every: trial $t was retrained from scratch"
echo "ok"
