#!/usr/bin/env bash
# A study always moves on (netspace search end to end, on small synthetic studies):
#  - a trial whose process is killed (isolation off: the search itself dies) is retried on
#    resume and, after max_attempts (2), failed with the reason instead of retried forever;
#  - with isolation (the default) a trial child killed with SIGKILL, one over its memory
#    limit and one over its time limit are failed with the reason, and the study finishes,
#    alone and under mpirun;
#  - a batch larger than the training set is refused before any trial runs;
#  - a relative data.dir is read beside the experiment file, and a resume on other data is
#    refused naming the files.
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$TMP" && mkdir -p "$TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { sqlite3 -readonly "$1" "$2"; }
# experiment NAME SAMPLES N EPOCHS BATCH LIMITS: a study of tiny RegNetX models
experiment() {
    cat >"$TMP/$1.json" <<JSON
{"name": "$1", "space": "$SRC/spaces/tiny_regnetx.json", "samples": $2, "seed": 3,
 "constraints": {"flops": [null, 6e5]},
 "data": {"name": "synthetic", "n": $3, "n_test": 64, "size": 16},
 "recipe": {"epochs": $4, "batch": $5}, "threads": 1 $6}
JSON
}
# trial_child_of PID: a trial child among PID's descendants (never another test's)
trial_child_of() {
    local p
    for p in $(pgrep -P "$1"); do
        if tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -q "trial-child"; then
            echo "$p"
            return
        fi
        trial_child_of "$p"
    done | head -1
}
# wait_state DB STATE [SQL]: until a trial is in STATE (and SQL holds; 30 s at most)
wait_state() {
    for _ in $(seq 300); do
        [ "$(q "$1" "select count(*) from trials where state = '$2' and ${3:-1}" 2>/dev/null)" -ge 1 ] 2>/dev/null && return 0
        sleep 0.1
    done
    fail "no trial became $2 in $1"
}

# --- 1. crash loop: the process dies with its trial twice; the third run fails it ---------
experiment loop 3 1024 3 32 ', "limits": {"isolate": false}'
DB=$TMP/loop.db
for run in 1 2; do
    "$NETSPACE" search --experiment "$TMP/loop.json" --db "$DB" --quiet >/dev/null 2>&1 &
    pid=$!
    wait_state "$DB" running "attempts = $run" # this run's start, not the dead run's row
    kill -9 $pid
    wait $pid 2>/dev/null
done
lost=$(q "$DB" "select trial from trials where attempts = 2")
[ -n "$lost" ] || fail "crash loop: no trial with 2 attempts: $(q "$DB" "select trial, state, attempts from trials")"
"$NETSPACE" search --experiment "$TMP/loop.json" --db "$DB" --quiet >"$TMP/o" 2>&1 ||
    fail "crash loop: the third run failed: $(cat "$TMP/o")"
[ "$(q "$DB" "select state || ': ' || reason from trials where trial = $lost")" = \
    "failed: lost 2 times: its process died (out of memory? see limits.memory_mb)" ] ||
    fail "crash loop: trial $lost: $(q "$DB" "select state, reason from trials where trial = $lost")"
[ "$(q "$DB" "select count(*) from trials where state = 'complete'")" = 2 ] || fail "crash loop: the others"

# --- 2. isolated trials: killed, over memory, over time -------------------------------------
# all_fail NAME N REASON: the study NAME finishes with its N trials failed for REASON (LIKE)
all_fail() {
    "$NETSPACE" search --experiment "$TMP/$1.json" --db "$TMP/$1.db" --quiet >"$TMP/o" 2>&1 ||
        fail "$1: the study did not finish: $(cat "$TMP/o")"
    [ "$(q "$TMP/$1.db" "select count(*) from trials where state = 'failed' and reason like '$3'")" = "$2" ] ||
        fail "$1: $(q "$TMP/$1.db" "select state, reason from trials")"
}
experiment mem 3 256 1 32 ', "limits": {"memory_mb": 1}'
all_fail mem 3 'error: memory: the net needs about % MB at batch 32; limits.memory_mb is 1'
experiment time 2 4096 50 32 ', "limits": {"trial_minutes": 0.01}'
all_fail time 2 'error: time limit: killed after % minutes (limits.trial_minutes 0.01)'


experiment kill 3 1024 2 32 ''
for how in alone mpi; do
    DB=$TMP/kill-$how.db
    if [ $how = mpi ]; then
        mpirun -np 2 --oversubscribe "$NETSPACE" search --experiment "$TMP/kill.json" --db "$DB" \
            --quiet >"$TMP/o" 2>&1 &
    else
        "$NETSPACE" search --experiment "$TMP/kill.json" --db "$DB" --quiet >"$TMP/o" 2>&1 &
    fi
    pid=$!
    wait_state "$DB" running
    child=""
    for _ in $(seq 100); do
        child=$(trial_child_of $pid)
        [ -n "$child" ] && break
        sleep 0.05
    done
    [ -n "$child" ] || fail "$how: no trial child found"
    kill -9 "$child"
    wait $pid || fail "$how: the study did not survive its trial's death: $(cat "$TMP/o")"
    [ "$(q "$DB" "select count(*) from trials where state = 'failed' and reason like
          'error: crashed: its process was killed (SIGKILL: out of memory?%'")" = 1 ] ||
        fail "$how: killed child: $(q "$DB" "select trial, state, reason from trials")"
    [ "$(q "$DB" "select count(*) from trials where state = 'complete'")" = 2 ] ||
        fail "$how: the other trials did not complete"
done

# --- 3. batch larger than the training set --------------------------------------------------
experiment big 2 100 1 128 ''
for how in alone mpi; do
    if [ $how = mpi ]; then
        mpirun -np 2 --oversubscribe "$NETSPACE" search --experiment "$TMP/big.json" \
            --db "$TMP/big-$how.db" --quiet >"$TMP/o" 2>&1 && fail "$how: batch 128 > 100 accepted"
    else
        "$NETSPACE" search --experiment "$TMP/big.json" --db "$TMP/big-$how.db" --quiet \
            >"$TMP/o" 2>&1 && fail "$how: batch 128 > 100 accepted"
    fi
    grep -q "recipe.batch: 128 is larger than the training set (100 images)" "$TMP/o" ||
        fail "$how: message: $(cat "$TMP/o")"
    [ "$(q "$TMP/big-$how.db" "select count(*) from trials where state != 'waiting'")" = 0 ] ||
        fail "$how: a trial ran"
done
# --- 4. data.dir beside the experiment file; a resume on other data is refused ----------------
# idx DIR SEED: tiny Fashion-MNIST-format files (64 training, 16 test images)
idx() {
    mkdir -p "$1"
    /usr/bin/python3 - "$1" "$2" <<'PY'
import gzip, random, struct, sys
d, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
for name, n in (("train", 64), ("t10k", 16)):
    with gzip.open(f"{d}/{name}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(rng.randrange(256) for _ in range(n * 784)))
    with gzip.open(f"{d}/{name}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(rng.randrange(10) for _ in range(n)))
PY
}
mkdir -p "$TMP/exp" "$TMP/elsewhere"
idx "$TMP/exp/data" 1
cat >"$TMP/exp/fm.json" <<JSON
{"name": "fm", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 2, "seed": 3,
 "constraints": {"flops": [null, 6e5]}, "data": {"name": "fashion-mnist", "dir": "data"},
 "recipe": {"epochs": 1, "batch": 16}}
JSON
(cd "$TMP/elsewhere" && "$NETSPACE" search --experiment ../exp/fm.json --db ../fm.db --quiet >"$TMP/o" 2>&1) ||
    fail "data.dir beside the experiment file, run from another folder: $(cat "$TMP/o")"
[ "$(q "$TMP/fm.db" "select count(*) from trials where state = 'complete'")" = 2 ] || fail "fm: not complete"
# grow the study on other data: refused before any trial, naming the files
sed -i 's/"samples": 2/"samples": 3/' "$TMP/exp/fm.json"
idx "$TMP/exp/data" 2
for how in alone mpi; do
    if [ $how = mpi ]; then
        (cd "$TMP/elsewhere" && mpirun -np 2 --oversubscribe "$NETSPACE" search \
            --experiment ../exp/fm.json --db ../fm.db --quiet >"$TMP/o" 2>&1) && fail "$how: other data accepted"
    else
        (cd "$TMP/elsewhere" && "$NETSPACE" search --experiment ../exp/fm.json --db ../fm.db \
            --quiet >"$TMP/o" 2>&1) && fail "$how: other data accepted"
    fi
    grep -q "the dataset differs from the one study 'fm' was trained on" "$TMP/o" ||
        fail "$how: message: $(cat "$TMP/o")"
    grep -q "exp/data (train-images-idx3-ubyte" "$TMP/o" || fail "$how: files not named: $(cat "$TMP/o")"
    [ "$(q "$TMP/fm.db" "select count(*) from trials where state != 'complete'")" = 1 ] &&
        [ "$(q "$TMP/fm.db" "select state from trials where trial = 2")" = waiting ] ||
        fail "$how: a trial ran on the other data"
done
echo ok
