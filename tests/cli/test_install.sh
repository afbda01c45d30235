#!/usr/bin/env bash
# netspace installed and documented as cluster software is:
#  - `cmake --install` into a fresh prefix puts the binary, the man page, the bash
#    completion and the shipped spaces and experiments in place;
#  - the installed `netspace --version` names the version, the commit, the CPU paths and
#    the share folder it found beside itself;
#  - the man page has one section per subcommand of `netspace --help` (and no other), each
#    listing exactly the options of that subcommand's --help, and groff formats it cleanly;
#  - the completion offers the subcommands, their options and query/plot's own words;
#  - a relative "space" is found beside the experiment, then in the current folder, then in
#    the installed share folder, in that order, and a missing one names all three places;
#  - the Slurm template is valid bash with well-formed #SBATCH lines, refuses a missing EXP,
#    and run outside Slurm with the installed paths runs a study to the end; the hostfile
#    example is well-formed and Open MPI maps 49 ranks on it as its comment says.
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$TMP" && mkdir -p "$TMP"
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
P="$TMP/prefix"
BUILD=$(dirname "$(readlink -f "$NETSPACE")")

# --- 1. install ------------------------------------------------------------------------
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.out" 2>&1 || { cat "$TMP/install.out"; fail "cmake --install"; }
NS="$P/bin/netspace"
for f in bin/netspace share/man/man1/netspace.1 share/bash-completion/completions/netspace \
    share/netspace/spaces/regnetx.json share/netspace/spaces/tiny_regnetx.json \
    share/netspace/experiments/quickstart.json share/netspace/experiments/synthetic_smoke.json \
    share/netspace/experiments/studies/regnetx.json share/netspace/experiments/README.md \
    share/netspace/experiments/cluster/hostfile.example; do
    [ -f "$P/$f" ] || fail "not installed: $f"
done
[ -x "$NS" ] || fail "the installed binary is not executable"
[ -x "$P/share/netspace/experiments/cluster/netspace.slurm" ] || fail "the Slurm template is not executable"
[ "$(cd "$SRC/spaces" && find . -name '*.json' | sort)" = "$(cd "$P/share/netspace/spaces" && find . -name '*.json' | sort)" ] ||
    fail "the installed spaces differ from spaces/"

# --- 2. --version ------------------------------------------------------------------------
"$NS" --version >"$TMP/version" || fail "--version exited non-zero"
want_version=$(sed -n 's/^project(netspace VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
grep -Eq "^netspace $want_version \(commit ([0-9a-f]{12}|unknown)" "$TMP/version" ||
    { cat "$TMP/version"; fail "--version: no 'netspace $want_version (commit ...)' line"; }
if git -C "$SRC" rev-parse HEAD >/dev/null 2>&1; then
    grep -q "commit $(git -C "$SRC" rev-parse --short=12 HEAD)" "$TMP/version" ||
        { cat "$TMP/version"; fail "--version does not name the source's commit"; }
fi
grep -Eq "^CPU paths compiled in: x86-64.*(AVX2|SSE)" "$TMP/version" || { cat "$TMP/version"; fail "--version: no CPU paths"; }
grep -q "^shipped spaces and experiments: $P/share/netspace$" "$TMP/version" ||
    { cat "$TMP/version"; fail "--version: the installed binary did not find its share folder"; }

# --- 3. the man page against --help ------------------------------------------------------
MAN="$P/share/man/man1/netspace.1"
cmds=$("$NS" --help | awk '/^commands:/ {on = 1; next} on && NF {print $1}')
[ -n "$cmds" ] || fail "no commands in netspace --help"
sections=$(sed -n 's/^\.SH "NETSPACE \([A-Z]*\)"$/\1/p' "$MAN" | tr 'A-Z' 'a-z')
[ "$(echo "$cmds" | sort)" = "$(echo "$sections" | sort)" ] ||
    fail "man sections ($(echo $sections)) are not the commands of netspace --help ($(echo $cmds))"
section() { # the text of the man section of command $1, with roff's \- as -
    awk -v h=".SH \"NETSPACE $(echo "$1" | tr 'a-z' 'A-Z')\"" '$0 == h {on = 1; next} on && /^\.SH/ {exit} on' "$MAN" |
        sed 's/\\-/-/g'
}
for c in $cmds; do
    in_help=$("$NS" "$c" --help | grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u)
    in_man=$(section "$c" | grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u)
    [ "$in_help" = "$in_man" ] || fail "man section of '$c' and its --help list different options:
$(diff <(echo "$in_help") <(echo "$in_man") | sed -n 's/^< /  only in --help: /p; s/^> /  only in the man page: /p')"
done
if command -v groff >/dev/null; then
    warn=$(groff -man -ww -z "$MAN" 2>&1)
    [ -z "$warn" ] || fail "groff warns about the man page: $warn"
fi

# --- 4. bash completion ------------------------------------------------------------------
complete_words() { # the completions of the command line "$@" (last word = the one completed)
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _netspace; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$P/share/bash-completion/completions/netspace" "$@"
}
[ "$(complete_words "$NS" se)" = search ] || fail "completion: 'se' did not give search"
[ "$(complete_words "$NS" "" | grep -c .)" -ge "$(echo "$cmds" | grep -c .)" ] || fail "completion: not every command offered"
complete_words "$NS" search --ex | grep -qx -- --experiment || fail "completion: search --ex"
complete_words "$NS" train --zero | grep -qx -- --zero-init-last-bn || fail "completion: train --zero"
complete_words "$NS" query --db x.db b | grep -qx best || fail "completion: query's commands"
complete_words "$NS" plot c | grep -qx curves || fail "completion: plot's kinds"
[ "$(complete_words "$NS" plot --failed c)" = chance ] || fail "completion: --failed's values"

# --- 5. where a relative space path is looked up ---------------------------------------
W="$TMP/work"
mkdir -p "$W/exps/spaces" "$W/spaces"
exp() { # file space: a 2-trial study of the tiny space
    cat >"$1" <<EOF
{"name": "lookup", "space": "$2", "samples": 2, "constraints": {"flops": [null, 4e5]},
 "data": {"name": "synthetic", "n": 64, "n_test": 16, "size": 8},
 "recipe": {"epochs": 1, "batch": 16}}
EOF
}
run() { (cd "$W" && "$NS" search --experiment "$1" --db "$TMP/lookup-$2.db" --quiet) >"$TMP/lookup.out" 2>&1; }
# a) only in the share folder: as written (spaces/...) and as the shipped experiments write it
exp "$W/exps/a.json" spaces/tiny_regnetx.json
run exps/a.json a || { cat "$TMP/lookup.out"; fail "spaces/tiny_regnetx.json not found in the share folder"; }
exp "$W/exps/b.json" ../spaces/tiny_regnetx.json
run exps/b.json b || { cat "$TMP/lookup.out"; fail "../spaces/tiny_regnetx.json not found in the share folder"; }
# b) the current folder before the share folder: a broken copy there is the one read
echo '{ broken' >"$W/spaces/tiny_regnetx.json"
run exps/a.json c && fail "a space in the current folder was not preferred to the share folder"
grep -q "netspace: spaces/tiny_regnetx.json" "$TMP/lookup.out" || { cat "$TMP/lookup.out"; fail "the current folder's space not named"; }
# c) beside the experiment before the current folder
cp "$SRC/spaces/tiny_regnetx.json" "$W/exps/spaces/"
run exps/a.json d || { cat "$TMP/lookup.out"; fail "the space beside the experiment was not preferred"; }
# d) nowhere: the message names the three places
exp "$W/exps/e.json" spaces/no_such_space.json
run exps/e.json e && fail "a missing space was accepted"
grep -q "space: cannot read 'spaces/no_such_space.json' (looked beside the experiment file, in the current folder and in $P/share/netspace)" "$TMP/lookup.out" ||
    { cat "$TMP/lookup.out"; fail "missing space: unclear message"; }
# e) a shipped experiment runs as installed, from anywhere
(cd "$W" && "$NS" search --experiment "$P/share/netspace/experiments/synthetic_smoke.json" --db "$TMP/shipped.db" --quiet) \
    >"$TMP/shipped.out" 2>&1 || { cat "$TMP/shipped.out"; fail "the installed smoke experiment did not run"; }

# --- 6. the Slurm template and the hostfile example ------------------------------------
SLURM="$P/share/netspace/experiments/cluster/netspace.slurm"
bash -n "$SLURM" || fail "netspace.slurm: bash -n"
# #SBATCH lines: "#SBATCH --option=value" (or a bare --flag), sbatch's options, all before the
# first command (sbatch stops reading them there)
first_cmd=$(grep -n -v -E '^(#|[[:space:]]*$)' "$SLURM" | head -1 | cut -d: -f1)
n=0
while IFS=: read -r line text; do
    n=$((n + 1))
    [[ $text =~ ^#SBATCH\ --(job-name|nodes|ntasks|ntasks-per-node|cpus-per-task|time|signal|output|error|partition|account|mem|mem-per-cpu|exclusive)(=[^[:space:]]+)?$ ]] ||
        fail "netspace.slurm:$line: malformed or unknown directive: $text"
    [ "$line" -lt "$first_cmd" ] || fail "netspace.slurm:$line: #SBATCH after the first command"
done < <(grep -n '^#SBATCH' "$SLURM")
[ $n -ge 4 ] || fail "netspace.slurm: only $n #SBATCH lines"
grep -q '^#SBATCH --time=[0-9]*:[0-9][0-9]:[0-9][0-9]$' "$SLURM" || fail "netspace.slurm: --time not HH:MM:SS"
# without EXP: a clear refusal
(cd "$W" && env -u EXP -u NETSPACE SLURM_JOB_ID=1 bash "$SLURM") >"$TMP/slurm0.out" 2>&1
[ $? = 2 ] && grep -q "set EXP" "$TMP/slurm0.out" || { cat "$TMP/slurm0.out"; fail "netspace.slurm without EXP"; }
# outside Slurm (mpirun takes this machine's slots), with the installed binary on the PATH
(cd "$W" && env -u NETSPACE PATH="$P/bin:$PATH" SLURM_JOB_ID=$$ TMPDIR="$TMP" OMPI_MCA_rmaps_base_oversubscribe=1 \
    EXP="$P/share/netspace/experiments/synthetic_smoke.json" timeout 300 bash "$SLURM") >"$TMP/slurm.out" 2>&1 ||
    { cat "$TMP/slurm.out"; fail "netspace.slurm run outside Slurm failed"; }
N=$(sed -n 's/.*"samples": *\([0-9]*\).*/\1/p' "$SRC/experiments/synthetic_smoke.json")
[ "$(sqlite3 -readonly "$W/results/synthetic_smoke.db" "select count(*) from trials where state = 'complete'")" = "$N" ] ||
    { cat "$TMP/slurm.out"; fail "netspace.slurm: the db copied back is not complete"; }
HOSTS="$P/share/netspace/experiments/cluster/hostfile.example"
grep -v -E '^(#|[[:space:]]*$)' "$HOSTS" | grep -v -E '^[A-Za-z0-9._-]+( slots=[0-9]+)?( max_slots=[0-9]+)?$' &&
    fail "hostfile.example: malformed lines above"
slots=$(grep -v '^#' "$HOSTS" | sed -n 's/.* slots=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
np=$(sed -n 's/.*-np \([0-9]*\).*/\1/p' "$HOSTS")
[ "$slots" = "$np" ] || fail "hostfile.example: its command starts $np ranks on $slots slots"
# Open MPI's own reading of it, without launching anything; in a network namespace of its
# own with only loopback, so that no name lookup of the example's nodes can leave
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
    unshare --net bash -c 'ip link set lo up && exec "$@"' _ timeout 60 mpirun --hostfile "$HOSTS" \
        -np "$np" --map-by slot --bind-to none --do-not-launch --display-map true >"$TMP/map.out" 2>&1 || { cat "$TMP/map.out"; fail "mpirun cannot map hostfile.example"; }
    for h in $(grep -v -E '^(#|[[:space:]]*$)' "$HOSTS" | awk '{print $1}'); do
        want=$(sed -n "s/^$h slots=\([0-9]*\).*/\1/p" "$HOSTS")
        grep -Eq "node: $h[[:space:]]+Num slots: $want[[:space:]].*Num procs: $want$" "$TMP/map.out" ||
            { cat "$TMP/map.out"; fail "mpirun's map of hostfile.example: not $want ranks on $h"; }
    done
else
    echo "note: not root or no network namespaces: mpirun's mapping of hostfile.example is not checked"
fi
echo "install integration: all checks passed"
