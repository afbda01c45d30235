#!/usr/bin/env bash
# netspace search across three hosts, on one machine: each host is a Linux network namespace
# (its own hostname too), joined by veth pairs to a bridge that lives in a fourth namespace,
# on a private test subnet. Open MPI starts its daemons through a launch agent that enters
# the host's namespace (as ssh would log in), mpirun itself runs inside the first host, the
# transport is TCP only (no shared-memory BTL) and Open MPI's TCP and out-of-band traffic is
# restricted to the test subnet. No namespace has a route anywhere else, so no traffic can
# leave them; everything is removed on exit (also after a failure or Ctrl-C).
#  - the smoke study on 3 hosts x 2 slots (the coordinator and 5 workers) completes every
#    trial with the results of the one-process run, trained on all three hosts;
#  - the dataset is read once per host, not once per worker (when strace is available);
#  - the ranks of one host killed mid-study: the job ends, and the same command resumes it
#    to exactly the one-process results, retraining only what was unfinished.
# Needs root, `ip netns` and `unshare`; elsewhere it says why and is skipped (exit 77).
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
skip() {
    echo "SKIP: multi-host test: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
for tool in ip unshare mpirun sqlite3 timeout; do
    command -v $tool >/dev/null || skip "'$tool' is not installed"
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$TMP" && mkdir -p "$TMP"
NETSPACE=$(readlink -f "$NETSPACE")
EXP="$SRC/experiments/synthetic_smoke.json"
N=$(sed -n 's/.*"samples": *\([0-9]*\).*/\1/p' "$EXP")
EPOCHS=$(sed -n 's/.*"epochs": *\([0-9]*\).*/\1/p' "$EXP")
NET=10.213.47 # the hosts are $NET.1 .. $NET.3/24; the subnet exists only inside our namespaces
HOSTS=3
PFX=nsmh$$ # namespaces: $PFX-br (the bridge), $PFX-h1 .. $PFX-h3 (the hosts)

# Remove a namespace of ours: end the processes in it (only ours: the namespace was made by
# this test, or by an earlier run of it that was killed before its cleanup), then delete it.
drop_ns() {
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    for _ in $(seq 50); do
        [ -z "$(ip netns pids "$1" 2>/dev/null)" ] && break
        sleep 0.1
    done
    ip netns del "$1" 2>/dev/null
}
cleanup() {
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PFX-"); do
        drop_ns "$ns"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# namespaces left by a run of this test that was killed (its pid is gone)
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^nsmh[0-9]+-'); do
    pid=${ns#nsmh}
    pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || drop_ns "$ns"
done

ip netns add "$PFX-br" 2>"$TMP/netns.err" || skip "cannot create a network namespace: $(cat "$TMP/netns.err")"
ip -n "$PFX-br" link add br0 type bridge && ip -n "$PFX-br" link set br0 up ||
    skip "cannot create a bridge in a namespace"
for i in $(seq $HOSTS); do
    h="$PFX-h$i"
    ip netns add "$h" || fail "ip netns add $h"
    # the veth pair is made inside the namespaces: eth0 in the host, p$i on the bridge
    ip -n "$h" link add eth0 type veth peer name "p$i" netns "$PFX-br" || fail "veth for $h"
    ip -n "$PFX-br" link set "p$i" master br0 && ip -n "$PFX-br" link set "p$i" up &&
        ip -n "$h" link set lo up && ip -n "$h" addr add "$NET.$i/24" dev eth0 &&
        ip -n "$h" link set eth0 up || fail "network of $h"
    # the only routes: the subnet and loopback (no default route: nothing can leave)
    [ -z "$(ip -n "$h" route show default)" ] || fail "$h has a default route"
    [ "$(ip -n "$h" -4 route show | grep -vc "^$NET.0/24 ")" = 0 ] ||
        fail "$h has routes beyond the test subnet: $(ip -n "$h" -4 route show)"
done

# The launch agent: Open MPI runs `AGENT HOST COMMAND...` to start its daemon on HOST, as
# it would with ssh; this one enters the host's namespace under the host's own name.
cat >"$TMP/agent.sh" <<EOF
#!/bin/bash
while [ "\${1#-}" != "\$1" ]; do shift; done # ssh-style options, if any
host=\$1
shift
case \$host in $NET.[1-$HOSTS]) ;; *) echo "agent: unknown host \$host" >&2; exit 1 ;; esac
i=\${host##*.}
echo "\$host" >>"$TMP/agent.log"
exec ip netns exec "$PFX-h\$i" unshare --uts bash -c "hostname h\$i && \$*"
EOF
chmod +x "$TMP/agent.sh"
for i in $(seq $HOSTS); do echo "$NET.$i slots=2"; done >"$TMP/hostfile"
# mpirun inside host 1 (named h1), its daemons on hosts 2 and 3 through the agent
on_h1() { ip netns exec "$PFX-h1" unshare --uts bash -c 'hostname h1 && exec "$@"' h1 "$@"; }
MPIRUN=(timeout 300 mpirun --hostfile "$TMP/hostfile" -np $((2 * HOSTS)) --map-by slot
    --mca plm_rsh_agent "$TMP/agent.sh" --mca plm_rsh_no_tree_spawn 1
    --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include "$NET.0/24"
    --mca oob_tcp_if_include "$NET.0/24")

. "$SRC/tests/search/helpers.sh"
same_as_ref() {
    diff <(results "$REF") <(results "$1") >"$TMP/diff" || { cat "$TMP/diff" >&2; fail "$2: results differ from the one-process run"; }
    diff <(epochs_of "$REF") <(epochs_of "$1") >"$TMP/diff" || { cat "$TMP/diff" >&2; fail "$2: epoch rows differ from the one-process run"; }
    [ "$(q "$1" "select count(*) from trials where state = 'complete'")" = "$N" ] || fail "$2: not $N complete"
    [ "$(q "$1" "select count(*) from epochs")" = "$((N * EPOCHS))" ] || fail "$2: epoch rows"
}
# no process of ours may outlive a run in the hosts (orted daemonizes)
wait_hosts_empty() {
    for _ in $(seq 100); do
        local busy=0
        for i in $(seq $HOSTS); do [ -n "$(ip netns pids "$PFX-h$i")" ] && busy=1; done
        [ $busy = 0 ] && return 0
        sleep 0.1
    done
    fail "$1: processes left in the host namespaces"
}

# --- 1. the reference: one process, no network -------------------------------------------
REF="$TMP/ref.db"
"$NETSPACE" search --experiment "$EXP" --db "$REF" --quiet >"$TMP/ref.out" 2>&1 ||
    { cat "$TMP/ref.out"; fail "one-process run failed"; }

# --- 2. three hosts ----------------------------------------------------------------------
t0=$EPOCHREALTIME
on_h1 "${MPIRUN[@]}" "$NETSPACE" search --experiment "$EXP" --db "$TMP/hosts.db" --quiet \
    >"$TMP/hosts.out" 2>&1 || { cat "$TMP/hosts.out"; fail "the run over $HOSTS hosts failed"; }
t1=$EPOCHREALTIME
wait_hosts_empty "3 hosts"
same_as_ref "$TMP/hosts.db" "3 hosts"
[ "$(q "$TMP/hosts.db" "select group_concat(host) from (select distinct host from trials order by 1)")" = h1,h2,h3 ] ||
    fail "3 hosts: trials were not trained on h1, h2 and h3: $(q "$TMP/hosts.db" "select host, rank, count(*) from trials group by 1, 2")"
[ "$(q "$TMP/hosts.db" "select count(*) from trials where rank = 0")" = 0 ] || fail "3 hosts: rank 0 trained"
grep -qx "$NET.2" "$TMP/agent.log" && grep -qx "$NET.3" "$TMP/agent.log" ||
    fail "3 hosts: the launch agent did not start hosts 2 and 3"
echo "3 hosts: $N trials in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s"

# --- 3. the dataset is read once per host ------------------------------------------------
# A small Fashion-MNIST-shaped set (IDX files written here), a study on it under strace,
# counting the successful opens of the training images over all ranks on all hosts.
if have_strace; then
    D="$TMP/idx"
    idx_dataset "$D" 256 64
    cat >"$TMP/idx.json" <<EOF
{"name": "idx", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 5, "seed": 1,
 "constraints": {"flops": [null, 1e6]},
 "data": {"name": "fashion-mnist", "dir": "$D"},
 "recipe": {"epochs": 1, "batch": 32}}
EOF
    on_h1 strace -ff -qq -e trace=openat -o "$TMP/strace" "${MPIRUN[@]}" "$NETSPACE" search \
        --experiment "$TMP/idx.json" --db "$TMP/idx.db" --quiet >"$TMP/idx.out" 2>&1 ||
        { cat "$TMP/idx.out"; fail "the study on IDX files over $HOSTS hosts failed"; }
    wait_hosts_empty "IDX study"
    opens=$(count_opens "$TMP/strace" train-images-idx3-ubyte)
    [ "$opens" = $HOSTS ] || fail "the training images were opened $opens times by 5 workers on $HOSTS hosts, want once per host"
    [ "$(q "$TMP/idx.db" "select count(*) from trials where state = 'complete'")" = 5 ] ||
        fail "IDX study: not 5 complete"
    echo "IDX study: training images read $opens times by 5 workers on $HOSTS hosts"
else
    echo "note: strace unavailable (or ptrace not permitted): the read-once-per-host check is skipped"
fi

# --- 4. one host's ranks killed mid-study, then resume -----------------------------------
DB="$TMP/kill.db"
on_h1 "${MPIRUN[@]}" "$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/kill.out" 2>&1 &
pid=$!
for _ in $(seq 600); do
    [ -s "$DB" ] && [ "$(q "$DB" "select count(*) from trials where state = 'complete'" 2>/dev/null)" -ge 1 ] 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
victims=""
for p in $(ip netns pids "$PFX-h3"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = netspace ] && victims="$victims $p"
done
[ -n "$victims" ] || { cat "$TMP/kill.out"; fail "no netspace rank found on host 3 mid-study"; }
kill -KILL $victims
wait $pid
rc=$?
[ $rc -ne 0 ] || fail "the job whose host 3 ranks were killed exited 0"
[ $rc -ne 124 ] || fail "the job whose host 3 ranks were killed hung until the timeout"
wait_hosts_empty "after killing host 3's ranks"
[ "$(q "$DB" "pragma integrity_check")" = ok ] || fail "kill: integrity_check"
done_before=$(q "$DB" "select count(*) from trials where state = 'complete'")
[ "$done_before" -lt "$N" ] || fail "the kill came after the study had finished"
on_h1 "${MPIRUN[@]}" "$NETSPACE" search --experiment "$EXP" --db "$DB" --quiet >"$TMP/resume.out" 2>&1 ||
    { cat "$TMP/resume.out"; fail "resume over $HOSTS hosts failed"; }
wait_hosts_empty "resume"
same_as_ref "$DB" "resume after host 3's ranks were killed"
grep -q "this run: $((N - done_before)) trials" "$TMP/resume.out" ||
    { cat "$TMP/resume.out"; fail "the resume did not train exactly the $((N - done_before)) unfinished trials"; }
echo "kill host 3 after $done_before of $N trials, resume: $((N - done_before)) trained, results equal"
echo "multi-host integration: all checks passed"
