# Sourced by the search's tests and bench/node_memory.sh: datasets of IDX files written on
# the spot, file-open counting with strace, and the memory of a study's ranks.

q() { sqlite3 -readonly "$1" "$2"; }
# What must be equal between two runs of a study: per trial its config, training seed and
# results; per epoch its metrics.
results() {
    q "$1" "select trial, state, config_hash, train_seed, train_error, test_error,
            best_test_error from trials order by trial"
}
epochs_of() { q "$1" "select trial, epoch, train_loss, test_error from epochs order by 1, 2"; }

# Wait until no process of ours still has `--db $1` on its command line (after a kill -9);
# `fail` is the sourcing test's.
wait_gone() {
    for _ in $(seq 100); do
        pgrep -f -- "--db $1" >/dev/null || return 0
        sleep 0.1
    done
    fail "processes using $1 still alive 10 s after the kill"
}
# wait_sql DB SQL: until SQL (a count) is >= 1, or fail after 60 s.
wait_sql() {
    for _ in $(seq 1200); do
        [ "$(q "$1" "$2" 2>/dev/null)" -ge 1 ] 2>/dev/null && return 0
        sleep 0.05
    done
    fail "waited 60 s for: $2"
}

# idx_dataset DIR N_TRAIN N_TEST: a Fashion-MNIST-shaped set of uncompressed IDX files
# (random pixels and labels).

# idx_file FILE MAGIC N [ROWS COLS]: the big-endian header, then N*ROWS*COLS random bytes
# (an image file) or N labels in 0..9 (a label file).
idx_file() {
    local f=$1 magic=$2 n=$3 hex
    shift 3
    hex=$(printf '%08x' "$magic" "$n" "$@" | sed 's/../\\x&/g')
    printf "$hex" >"$f"
    if [ $# -gt 0 ]; then
        head -c $((n * $1 * $2)) /dev/urandom >>"$f"
    else
        for _ in $(seq "$n"); do printf "\\x0$((RANDOM % 10))"; done >>"$f"
    fi
}

idx_dataset() {
    mkdir -p "$1"
    idx_file "$1/train-images-idx3-ubyte" 2051 "$2" 28 28
    idx_file "$1/train-labels-idx1-ubyte" 2049 "$2"
    idx_file "$1/t10k-images-idx3-ubyte" 2051 "$3" 28 28
    idx_file "$1/t10k-labels-idx1-ubyte" 2049 "$3"
}

# 0 when strace can trace here (installed, and ptrace permitted).
have_strace() { command -v strace >/dev/null && strace -f -qq -e trace=none true 2>/dev/null; }

# count_opens PREFIX NAME: successful opens of files named NAME in the strace -ff logs PREFIX.*
count_opens() { cat "$1".* | grep -c "/$2\", O_RDONLY) = [0-9]"; }

# ranks_memory DB: "N PSS_KB RSS_KB" over the netspace processes whose command line has
# `--db DB` (the ranks of one study on this machine): how many, and their summed
# proportional set size (shared pages divided among their users: what the node holds) and
# resident set size (shared pages counted in every process).
ranks_memory() {
    local n=0 pss=0 rss=0 p kb
    for p in $(pgrep -f -- "--db $1( |\$)"); do
        [ "$(cat /proc/$p/comm 2>/dev/null)" = netspace ] || continue
        kb=$(awk '/^Pss:/ {p = $2} /^Rss:/ {r = $2} END {print p + 0, r + 0}' \
            /proc/$p/smaps_rollup 2>/dev/null) || continue
        n=$((n + 1))
        pss=$((pss + ${kb% *}))
        rss=$((rss + ${kb#* }))
    done
    echo "$n $pss $rss"
}

# study_memory RANKS NETSPACE EXPERIMENT DB: start the study (alone for 1 rank, else under
# mpirun -np RANKS), wait until every worker trains a trial (the db shows RANKS-1 trials
# running, 1 alone), sample ranks_memory for 2 s, stop the study with SIGTERM and print
# "STARTUP_S PEAK_PSS_KB PEAK_RSS_KB": seconds from the launch until every worker was
# training (the data loaded), and the peaks over the samples that saw every rank.
# The experiment must have at least RANKS-1 trials, each longer than the sampling.
study_memory() {
    local ranks=$1 ns=$2 exp=$3 db=$4 want=$(($1 > 1 ? $1 - 1 : 1)) pid t0 t1="" running
    local peak_pss=0 peak_rss=0 n pss rss
    rm -f "$db" "$db"-*
    t0=$EPOCHREALTIME
    if [ "$ranks" = 1 ]; then
        "$ns" search --experiment "$exp" --db "$db" --quiet >"$db.out" 2>&1 &
    else
        mpirun -np "$ranks" --oversubscribe "$ns" search --experiment "$exp" --db "$db" \
            --quiet >"$db.out" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 3000); do
        kill -0 $pid 2>/dev/null || break
        running=$(sqlite3 -readonly "$db" "select count(*) from trials where state = 'running'" 2>/dev/null) ||
            running=0
        if [ "${running:-0}" -ge $want ]; then
            t1=$EPOCHREALTIME
            break
        fi
        sleep 0.05
    done
    if [ -n "$t1" ]; then
        for _ in $(seq 20); do
            read -r n pss rss < <(ranks_memory "$db")
            if [ "$n" = "$ranks" ]; then
                [ "$pss" -gt $peak_pss ] && peak_pss=$pss
                [ "$rss" -gt $peak_rss ] && peak_rss=$rss
            fi
            sleep 0.1
        done
    fi
    kill -TERM $pid 2>/dev/null
    wait $pid 2>/dev/null || true
    [ -n "$t1" ] || { cat "$db.out" >&2; return 1; }
    awk "BEGIN {printf \"%.2f\", $t1 - $t0}"
    echo " $peak_pss $peak_rss"
}
