#!/usr/bin/env bash
# netspace search end to end, alone and under mpirun, on the synthetic smoke experiment:
#  - 3 ranks give the same configs, seeds, errors and epoch rows as one process;
#  - SIGKILL to mpirun mid-run, then the same command: exactly N complete trials, no
#    duplicates, the same results as the uninterrupted run;
#  - SIGTERM (to mpirun, and to a lone process): exit non-zero with the resume hint, no trial
#    left 'running', db intact; the rerun completes it identically;
#  - a diverging recipe marks trials failed with the reason and the study still finishes;
#  - "train_seed" trains the same configs from other seeds;
#  - a study grown to more samples equals the study run at once; shrinking is refused;
#  - corrupt, foreign, newer-schema and unwritable dbs, a changed experiment under the same
#    name and a bad experiment file give clear errors, never a crash.
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$TMP" && mkdir -p "$TMP"
EXP="$SRC/experiments/synthetic_smoke.json"
N=$(sed -n 's/.*"samples": *\([0-9]*\).*/\1/p' "$EXP")
EPOCHS=$(sed -n 's/.*"epochs": *\([0-9]*\).*/\1/p' "$EXP")
MPIRUN=(mpirun -np 3 --oversubscribe)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# q, results (what must be equal between runs), epochs_of, wait_gone
. "$SRC/tests/search/helpers.sh"
# Wait until the db shows at least one complete trial (or give up after 60 s).
wait_complete() {
    for _ in $(seq 600); do
        if [ -s "$1" ] && [ "$(q "$1" "select count(*) from trials where state='complete'" 2>/dev/null)" -ge 1 ] 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    fail "no trial completed in $1 within 60 s"
}
check_complete() { # db: N complete trials, no duplicates, EPOCHS rows each, db intact
    local db=$1 what=$2
    [ "$(q "$db" "pragma integrity_check")" = ok ] || fail "$what: integrity_check"
    [ "$(q "$db" "select count(*) from trials where state='complete'")" = "$N" ] ||
        fail "$what: not $N complete: $(q "$db" "select state, count(*) from trials group by 1")"
    [ "$(q "$db" "select count(*) from trials")" = "$N" ] || fail "$what: not $N trial rows"
    [ "$(q "$db" "select count(distinct config_hash) from trials")" = "$N" ] ||
        fail "$what: duplicate configs"
    [ "$(q "$db" "select count(*) from epochs")" = "$((N * EPOCHS))" ] ||
        fail "$what: $(q "$db" "select count(*) from epochs") epoch rows, want $((N * EPOCHS))"
}
same_as_ref() {
    diff <(results "$REF") <(results "$1") >"$TMP/diff" || { cat "$TMP/diff" >&2; fail "$2: results differ from the single-process run"; }
    diff <(epochs_of "$REF") <(epochs_of "$1") >"$TMP/diff" || { cat "$TMP/diff" >&2; fail "$2: epoch rows differ from the single-process run"; }
}

# --- 1. the reference: one process -------------------------------------------------------
REF="$TMP/ref.db"
"$NETSPACE" search --experiment "$EXP" --db "$REF" --quiet >"$TMP/ref.out" 2>&1 ||
    { cat "$TMP/ref.out"; fail "single-process run failed"; }
grep -q "$N of $N trials complete" "$TMP/ref.out" || { cat "$TMP/ref.out"; fail "no summary"; }
check_complete "$REF" "single process"
[ "$(q "$REF" "select count(distinct rank) || ',' || min(rank) from trials")" = "1,0" ] ||
    fail "single process: trials not all trained by rank 0"
# rerunning a finished study trains nothing and changes nothing
cp "$REF" "$TMP/ref2.db"
"$NETSPACE" search --experiment "$EXP" --db "$TMP/ref2.db" --quiet >"$TMP/o" 2>&1 || fail "rerun of a finished study failed"
grep -q "this run: 0 trials" "$TMP/o" || { cat "$TMP/o"; fail "rerun of a finished study trained something"; }
same_as_ref "$TMP/ref2.db" "rerun of a finished study"
# the same study with "train_seed": the same architectures, other training seeds and errors
sed -e 's/"synthetic_smoke"/"smoke_train_seed"/' -e "s|\.\./spaces/|$SRC/spaces/|" \
    -e 's/"seed": 7,/"seed": 7, "train_seed": 8,/' "$EXP" >"$TMP/twin.json"
"$NETSPACE" search --experiment "$TMP/twin.json" --db "$TMP/ref2.db" --quiet >"$TMP/o" 2>&1 ||
    { cat "$TMP/o"; fail "train_seed twin failed"; }
twins() { q "$TMP/ref2.db" "select count(*) from trials a join trials b using (trial)
    where a.study_id = 1 and b.study_id = 2 and $1"; }
[ "$(twins "b.state = 'complete' and a.config_hash = b.config_hash and a.train_seed != b.train_seed")" = "$N" ] ||
    fail "train_seed twin: not the same $N configs with other seeds: $(twins 1)"
[ "$(twins "a.test_error != b.test_error or a.train_error != b.train_error")" -ge 1 ] ||
    fail "train_seed twin: every error equal to the original's"

# --- 2. three ranks: the same study, read while it runs --------------------------------
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$EXP" --db "$TMP/mpi.db" --quiet >"$TMP/mpi.out" 2>&1 &
pid=$!
reads=0
while kill -0 $pid 2>/dev/null; do
    # a reader never sees half a trial: a complete trial has all its epoch rows
    if [ -s "$TMP/mpi.db" ]; then
        half=$(q "$TMP/mpi.db" "select count(*) from trials t where state = 'complete' and
            (select count(*) from epochs e where e.study_id = t.study_id and e.trial = t.trial)
            != $EPOCHS" 2>/dev/null) && reads=$((reads + 1))
        [ "${half:-0}" = 0 ] || fail "a reader saw a complete trial without all its epochs"
    fi
    sleep 0.05
done
wait $pid || { cat "$TMP/mpi.out"; fail "mpirun -np 3 run failed"; }
[ $reads -gt 0 ] || fail "no read succeeded while the search ran"
check_complete "$TMP/mpi.db" "mpirun -np 3"
same_as_ref "$TMP/mpi.db" "mpirun -np 3"
[ "$(q "$TMP/mpi.db" "select count(*) from trials where rank = 0")" = 0 ] ||
    fail "mpirun -np 3: rank 0 trained (it must only coordinate)"
[ "$(q "$TMP/mpi.db" "select count(distinct rank) from trials")" = 2 ] ||
    fail "mpirun -np 3: trials were not spread over ranks 1 and 2"
# largest first: trials started in order of decreasing flops (per worker start times)
[ "$(q "$TMP/mpi.db" "select count(*) from trials a join trials b on a.started < b.started
        where a.flops < b.flops and a.rank = b.rank")" = 0 ] ||
    fail "mpirun -np 3: a smaller trial started before a larger one on the same rank"

# --- 3. SIGKILL to mpirun mid-run, then resume -------------------------------------------
DB="$TMP/kill.db"
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/kill.out" 2>&1 &
pid=$!
wait_complete "$DB"
# meanwhile a second search on the same db is refused (one writer per db)
"$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/second.out" 2>&1 &&
    fail "a second search on a db in use was not refused"
grep -q "another netspace search is writing this db" "$TMP/second.out" ||
    { cat "$TMP/second.out"; fail "second search: no clear message"; }
kill -KILL $pid
wait $pid 2>/dev/null
wait_gone "$DB"
done_before=$(q "$DB" "select count(*) from trials where state='complete'")
[ "$done_before" -lt "$N" ] || fail "SIGKILL came after the study had finished (enlarge the experiment)"
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/kill2.out" 2>&1 ||
    { cat "$TMP/kill2.out"; fail "resume after SIGKILL failed"; }
check_complete "$DB" "resume after SIGKILL"
same_as_ref "$DB" "resume after SIGKILL"
grep -q "this run: $((N - done_before)) trials" "$TMP/kill2.out" ||
    { cat "$TMP/kill2.out"; fail "resume after SIGKILL did not train exactly the $((N - done_before)) unfinished trials"; }

# --- 4. SIGTERM to mpirun: clean stop, resume alone --------------------------------------
DB="$TMP/term.db"
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/term.out" 2>&1 &
pid=$!
wait_complete "$DB"
kill -TERM $pid
wait $pid
rc=$?
wait_gone "$DB"
[ $rc -ne 0 ] || fail "SIGTERM: mpirun exited 0"
grep -q "interrupted: .* run the same command again to resume" "$TMP/term.out" ||
    { cat "$TMP/term.out"; fail "SIGTERM: no resume message"; }
[ "$(q "$DB" "pragma integrity_check")" = ok ] || fail "SIGTERM: integrity_check"
[ "$(q "$DB" "select count(*) from trials where state in ('running', 'stale')")" = 0 ] ||
    fail "SIGTERM: trials left running: $(q "$DB" "select trial, state from trials")"
[ "$(q "$DB" "select count(*) from epochs e join trials t using (study_id, trial) where t.state != 'complete'")" = 0 ] ||
    fail "SIGTERM: epoch rows of unfinished trials kept"
"$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/term2.out" 2>&1 ||
    { cat "$TMP/term2.out"; fail "resume after SIGTERM failed"; }
check_complete "$DB" "resume after SIGTERM"
same_as_ref "$DB" "resume after SIGTERM"

# --- 5. SIGTERM to a lone process: exit 3, resume under mpirun ---------------------------
DB="$TMP/term1.db"
"$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/t1.out" 2>&1 &
pid=$!
wait_complete "$DB"
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 3 ] || { cat "$TMP/t1.out"; fail "SIGTERM to a lone process: exit $rc, want 3"; }
grep -q "run the same command again to resume" "$TMP/t1.out" || fail "SIGTERM alone: no resume message"
[ "$(q "$DB" "select count(*) from trials where state != 'complete' and state != 'waiting'")" = 0 ] ||
    fail "SIGTERM alone: trials neither complete nor waiting"
mpirun -np 2 "$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/t2.out" 2>&1 ||
    { cat "$TMP/t2.out"; fail "resume under mpirun -np 2 failed"; }
check_complete "$DB" "resume under mpirun -np 2"
same_as_ref "$DB" "resume under mpirun -np 2"

# --- 6. a diverging recipe: failed trials with a reason, the study finishes --------------
cat >"$TMP/diverge.json" <<EOF
{"name": "diverge", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 3, "seed": 3,
 "constraints": {"flops": [null, 4e5]},
 "data": {"name": "synthetic", "n": 128, "n_test": 32, "size": 16},
 "recipe": {"epochs": 1, "batch": 16, "lr": 1e8, "momentum": 0.9, "weight_decay": 0.5}}
EOF
mpirun -np 2 "$NETSPACE" search --experiment "$TMP/diverge.json" --db "$TMP/div.db" --quiet >"$TMP/div.out" 2>&1 ||
    { cat "$TMP/div.out"; fail "diverging study did not finish with exit 0"; }
[ "$(q "$TMP/div.db" "select count(*) from trials where state = 'failed' and reason like 'diverged%'")" = 3 ] ||
    fail "diverging recipe: $(q "$TMP/div.db" "select trial, state, reason from trials")"
grep -q "0 of 3 trials complete, 3 failed" "$TMP/div.out" || { cat "$TMP/div.out"; fail "diverge: summary"; }

# --- 7. bad dbs and bad experiments: clear errors, no crash ------------------------------
expect_error() { # expected-message-regex command...
    local want=$1
    shift
    "$@" >"$TMP/err.out" 2>&1
    local rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
        cat "$TMP/err.out" >&2
        fail "'$*' exited $rc, want a clean error"
    fi
    grep -Eq "$want" "$TMP/err.out" || { cat "$TMP/err.out" >&2; fail "'$*': message lacks /$want/"; }
}
head -c 4096 /dev/urandom >"$TMP/junk.db"
expect_error "netspace: .*junk.db" "$NETSPACE" search --experiment "$EXP" --db "$TMP/junk.db" --quiet
sqlite3 "$TMP/foreign.db" "create table t(x); insert into t values (1);"
expect_error "netspace: .*foreign.db.*netspace" "$NETSPACE" search --experiment "$EXP" --db "$TMP/foreign.db" --quiet
cp "$REF" "$TMP/newer.db"
sqlite3 "$TMP/newer.db" "update netspace_version set schema_version = schema_version + 1"
expect_error "netspace: .*newer.db.*(newer|version)" "$NETSPACE" search --experiment "$EXP" --db "$TMP/newer.db" --quiet
expect_error "netspace: .*/no/such/dir/x.db" "$NETSPACE" search --experiment "$EXP" --db "$TMP/no/such/dir/x.db" --quiet
mkdir -p "$TMP/adir.db"
expect_error "netspace: .*adir.db" "$NETSPACE" search --experiment "$EXP" --db "$TMP/adir.db" --quiet
# the same under mpirun: rank 0 fails before setup and the workers leave cleanly
expect_error "netspace: .*junk.db" mpirun -np 2 "$NETSPACE" search --experiment "$EXP" --db "$TMP/junk.db" --quiet
# a worker that cannot load the data stops the study with its rank and reason
cat >"$TMP/nodata.json" <<EOF
{"name": "nodata", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 2,
 "data": {"name": "fashion-mnist", "dir": "$TMP/no-such-data"}}
EOF
expect_error "netspace: rank 1 .*no-such-data" mpirun -np 2 "$NETSPACE" search --experiment "$TMP/nodata.json" --db "$TMP/nodata.db" --quiet
[ "$(q "$TMP/nodata.db" "select count(*) from trials where state = 'waiting'")" = 2 ] ||
    fail "worker data failure: trials not left waiting"
expect_error "netspace: .*no-such-data" "$NETSPACE" search --experiment "$TMP/nodata.json" --db "$TMP/nodata.db" --quiet
# the same study name with another experiment is refused, the db is untouched
sed 's/"lr": 0.1/"lr": 0.2/' "$EXP" >"$TMP/changed.json"
sed -i "s|\.\./spaces/|$SRC/spaces/|" "$TMP/changed.json"
cp "$REF" "$TMP/changed.db"
expect_error "synthetic_smoke.*different experiment" "$NETSPACE" search --experiment "$TMP/changed.json" --db "$TMP/changed.db" --quiet
same_as_ref "$TMP/changed.db" "refused changed experiment"
# a study grows: the same experiment with more samples keeps the trials it has and trains the
# rest, ending as the full study run at once; fewer samples than the db holds are refused
sed "s|\.\./spaces/|$SRC/spaces/|; s/\"samples\": *$N/\"samples\": $((N / 2))/" "$EXP" >"$TMP/half.json"
sed "s|\.\./spaces/|$SRC/spaces/|" "$EXP" >"$TMP/full.json"
"$NETSPACE" search --experiment "$TMP/half.json" --db "$TMP/grow.db" --quiet >/dev/null 2>&1 ||
    fail "half study"
[ "$(q "$TMP/grow.db" "select count(*) from trials where state='complete'")" = $((N / 2)) ] ||
    fail "half study: not $((N / 2)) complete"
"$NETSPACE" search --experiment "$TMP/full.json" --db "$TMP/grow.db" --quiet >"$TMP/grow.out" 2>&1 ||
    { cat "$TMP/grow.out"; fail "growing the study"; }
grep -q "grew from $((N / 2)) to $N samples" "$TMP/grow.out" || fail "no growth message: $(cat "$TMP/grow.out")"
check_complete "$TMP/grow.db" "grown study"
same_as_ref "$TMP/grow.db" "grown study"
# --samples K runs the first K of the file's samples and records K; the file alone (under
# mpirun this time) grows it to the full study, equal to the one run at once
"$NETSPACE" search --experiment "$TMP/full.json" --db "$TMP/part.db" --samples 2 --quiet >/dev/null 2>&1 ||
    fail "--samples 2"
[ "$(q "$TMP/part.db" "select count(*) || ',' || sum(state = 'complete') from trials")" = 2,2 ] ||
    fail "--samples 2: not 2 complete trials: $(q "$TMP/part.db" "select state, count(*) from trials group by 1")"
[ "$(q "$TMP/part.db" "select json_extract(experiment, '$.samples') from studies")" = 2 ] ||
    fail "--samples 2: the study is not recorded with 2 samples"
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/full.json" --db "$TMP/part.db" --quiet >"$TMP/grow.out" 2>&1 ||
    { cat "$TMP/grow.out"; fail "growing a --samples study"; }
grep -q "grew from 2 to $N samples" "$TMP/grow.out" || fail "--samples: no growth message: $(cat "$TMP/grow.out")"
same_as_ref "$TMP/part.db" "study grown from --samples 2"
expect_error "full.json: study 'synthetic_smoke' has $N samples .*grow but not shrink" \
    "$NETSPACE" search --experiment "$TMP/full.json" --db "$TMP/part.db" --samples 2 --quiet
expect_error "full.json: --samples $((N + 1)): must be 1 to the experiment's \"samples\" \($N\)" \
    "$NETSPACE" search --experiment "$TMP/full.json" --db "$TMP/x.db" --samples $((N + 1)) --quiet
[ ! -e "$TMP/x.db" ] || fail "--samples beyond the file's created the db"
expect_error "search: --samples: '0' is not an integer" \
    "$NETSPACE" search --experiment "$TMP/full.json" --db "$TMP/x.db" --samples 0
sed "s/\"samples\": *$N/\"samples\": 3/" "$TMP/full.json" >"$TMP/shrink.json"
cp "$TMP/grow.db" "$TMP/shrink.db"
expect_error "shrink.json: study 'synthetic_smoke' has $N samples .*grow but not shrink" \
    "$NETSPACE" search --experiment "$TMP/shrink.json" --db "$TMP/shrink.db" --quiet
same_as_ref "$TMP/shrink.db" "refused shrinking"
# a bad experiment names the file and the key
sed 's/"lr":/"lrate":/' "$EXP" >"$TMP/typo.json"
expect_error "typo.json: recipe.lrate: unknown key" "$NETSPACE" search --experiment "$TMP/typo.json" --db "$TMP/typo.db" --quiet
[ ! -e "$TMP/typo.db" ] || fail "a bad experiment created the db"
expect_error "usage|required" "$NETSPACE" search --db "$TMP/x.db"

echo "search integration: all checks passed"
