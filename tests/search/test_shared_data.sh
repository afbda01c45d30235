#!/usr/bin/env bash
# One dataset copy per node: under mpirun on one host, the workers share one copy of the
# dataset (an MPI-3 shared-memory window) that one of them read.
#  - 5 workers on one node open the training images once (strace; skipped without it), and
#    train exactly what one process trains from the same files;
#  - the node's memory: the 5 workers together hold less than two copies of a 24 MB set
#    (proportional set size, summed while every worker has the data);
#  - a node whose reader cannot load the data: every worker reports it, the job ends with
#    the reason, no hang.
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$TMP" && mkdir -p "$TMP"
. "$SRC/tests/search/helpers.sh"
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
MPIRUN=(timeout 300 mpirun -np 6 --oversubscribe)

experiment() { # name dir samples flops-limit: a study on the IDX files in dir
    cat >"$TMP/$1.json" <<EOF
{"name": "$1", "space": "$SRC/spaces/tiny_regnetx.json", "samples": $3, "seed": 1,
 "constraints": {"flops": [null, $4]},
 "data": {"name": "fashion-mnist", "dir": "$2", "train_limit": 256},
 "recipe": {"epochs": 1, "batch": 32}}
EOF
}

# --- 1. read once, same results as one process -------------------------------------------
idx_dataset "$TMP/small" 512 64
experiment small "$TMP/small" 6 1e6
"$NETSPACE" search --experiment "$TMP/small.json" --db "$TMP/ref.db" --quiet >"$TMP/ref.out" 2>&1 ||
    { cat "$TMP/ref.out"; fail "one-process run failed"; }
if have_strace; then
    strace -ff -qq -e trace=openat -o "$TMP/strace" "${MPIRUN[@]}" "$NETSPACE" search \
        --experiment "$TMP/small.json" --db "$TMP/mpi.db" --quiet >"$TMP/mpi.out" 2>&1 ||
        { cat "$TMP/mpi.out"; fail "mpirun -np 6 failed"; }
    opens=$(count_opens "$TMP/strace" train-images-idx3-ubyte)
    [ "$opens" = 1 ] || fail "5 workers on one node opened the training images $opens times, want 1"
    [ "$(count_opens "$TMP/strace" t10k-images-idx3-ubyte)" = 1 ] || fail "test images not read once"
else
    echo "note: strace unavailable (or ptrace not permitted): the read-once check is skipped"
    "${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/small.json" --db "$TMP/mpi.db" --quiet \
        >"$TMP/mpi.out" 2>&1 || { cat "$TMP/mpi.out"; fail "mpirun -np 6 failed"; }
fi
diff <(results "$TMP/ref.db"; epochs_of "$TMP/ref.db") <(results "$TMP/mpi.db"; epochs_of "$TMP/mpi.db") >"$TMP/diff" ||
    { cat "$TMP/diff"; fail "workers on the shared copy trained differently from one process"; }
[ "$(q "$TMP/mpi.db" "select count(distinct rank) from trials")" -ge 2 ] ||
    fail "the trials did not spread over the workers"

# --- 2. the node holds one copy -------------------------------------------------------------
# The summed proportional set size of 1 coordinator + 5 workers while they train, with a
# 60,000-image set (47 MB, Fashion-MNIST's size) against a 1,000-image one: the difference is
# what the data costs the node, one copy when shared (five without sharing).
idx_dataset "$TMP/big" 60000 64
idx_dataset "$TMP/tiny" 1000 64
for set in big tiny; do
    cat >"$TMP/$set.json" <<EOF
{"name": "$set", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 8, "seed": 1,
 "data": {"name": "fashion-mnist", "dir": "$TMP/$set"},
 "recipe": {"epochs": 50, "batch": 32}}
EOF
    read -r _ pss _ < <(study_memory 6 "$NETSPACE" "$TMP/$set.json" "$TMP/$set.db") ||
        fail "study on the $set set did not get every worker training"
    eval "pss_$set=$pss"
done
copy=$((60000 * 784 / 1024))
echo "6 ranks: summed Pss $pss_big kB with a $copy kB set, $pss_tiny kB with a 1,000-image set"
[ $((pss_big - pss_tiny)) -lt $((copy * 2)) ] ||
    fail "the node holds more than one copy of the data: $((pss_big - pss_tiny)) kB more for a $copy kB set"
[ $((pss_big - pss_tiny)) -gt $((copy / 2)) ] ||
    fail "the data costs the node $((pss_big - pss_tiny)) kB, less than half a copy ($copy kB): the measurement is wrong"

# --- 3. the node's reader cannot load the data ---------------------------------------------
experiment nodata "$TMP/no-such-data" 4 1e6
"${MPIRUN[@]}" "$NETSPACE" search --experiment "$TMP/nodata.json" --db "$TMP/nodata.db" --quiet \
    >"$TMP/nodata.out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$TMP/nodata.out"; fail "missing data: exit $rc, want a clean failure"; }
grep -q "netspace: rank [1-5] .*no-such-data" "$TMP/nodata.out" ||
    { cat "$TMP/nodata.out"; fail "missing data: no message naming the rank and the folder"; }
[ "$(q "$TMP/nodata.db" "select count(*) from trials where state = 'waiting'")" = 4 ] ||
    fail "missing data: trials not left waiting"
echo "shared data integration: all checks passed"
