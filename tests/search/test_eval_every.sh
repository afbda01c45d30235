#!/usr/bin/env bash
# "recipe.eval_every": a study that evaluates after every 2nd epoch and the last (3 epochs:
# after epochs 2 and 3) records no test error for epoch 1 and otherwise exactly what the
# same study evaluating every epoch records (losses, errors, final results), alone and
# under mpirun (trials in child processes); query, compare, plot and report read such a db.
# Env (from CTest): NETSPACE, SRC, TMP.
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$TMP" && mkdir -p "$TMP"
cd "$TMP" || exit 1
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
command -v sqlite3 >/dev/null || { echo "no sqlite3 command: skipped"; exit 77; }
. "$SRC/tests/search/helpers.sh" # q

exp() { # NAME EVAL_EVERY
    cat >"$1.json" <<EOF
{"name": "$1", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 3, "seed": 4,
 "data": {"name": "synthetic", "n": 256},
 "recipe": {"epochs": 3, "batch": 32, "lr": 0.1, "eval_every": $2}}
EOF
}
exp every 1
exp sparse 2
"$NETSPACE" search --experiment every.json --db a.db >/dev/null 2>&1 || fail "search every"
"$NETSPACE" search --experiment sparse.json --db a.db >/dev/null 2>&1 || fail "search sparse"
mpirun -np 3 "$NETSPACE" search --experiment sparse.json --db m.db >/dev/null 2>&1 ||
    fail "search sparse under mpirun"

ep() { # DB STUDY: per epoch trial, epoch, loss, train error, test error (NULL: -)
    q "$1" "select trial, epoch, train_loss, train_error, coalesce(test_error, '-') from epochs
            e join studies s on s.id = e.study_id where s.name = '$2' order by 1, 2"
}
fin() { # DB STUDY: per trial the final errors
    q "$1" "select trial, state, train_error, test_error from trials t join studies s
            on s.id = t.study_id where s.name = '$2' order by 1"
}
# one reader at a time (files, not process substitutions reading the db together)
ep a.db every >every.ep && ep a.db sparse >sparse.ep && ep m.db sparse >mpi.ep &&
    fin a.db every >every.fin && fin a.db sparse >sparse.fin && fin m.db sparse >mpi.fin ||
    fail "reading the dbs"
[ "$(grep -c '|-$' sparse.ep)" = 3 ] || fail "not 3 unevaluated epochs: $(cat sparse.ep)"
[ "$(grep '|-$' sparse.ep | cut -d'|' -f2 | sort -u)" = 0 ] ||
    fail "not exactly epoch 1 unevaluated: $(cat sparse.ep)"
# where both evaluated, and everything else, the same numbers
awk -F'|' '$2 == 0 {$5 = "-"} {print}' OFS='|' every.ep | cmp -s - sparse.ep ||
    fail "epoch rows differ from the every-epoch study's"
cmp -s every.fin sparse.fin || fail "final results differ"
cmp -s sparse.ep mpi.ep || fail "mpirun's epoch rows differ"
cmp -s sparse.fin mpi.fin || fail "mpirun's results differ"
[ "$(q a.db "select json_extract(experiment, '$.recipe.eval_every') from studies
    where name = 'sparse'")" = 2 ] || fail "eval_every not recorded with the study"

# the analysis reads such a db
"$NETSPACE" query --db a.db studies >/dev/null || fail "query studies"
"$NETSPACE" compare --db a.db --study every,sparse --paired >/dev/null || fail "compare"
"$NETSPACE" plot curves --db a.db --study sparse --out c.png >/dev/null 2>&1 || fail "plot curves"
"$NETSPACE" plot fidelity --db a.db --study sparse --out f.png >/dev/null 2>&1 || fail "plot fidelity"
# rho per epoch: none for epoch 1 (never evaluated), one for epochs 2 and 3
rho=$(awk '/index 0/ {on = 1; next} /^$/ {on = 0} on && !/^#/ {print $1}' f.dat | paste -sd' ')
[ "$rho" = "2 3" ] || fail "fidelity's epochs: '$rho'"
"$NETSPACE" report --db a.db --out rep >/dev/null 2>&1 || fail "report"
[ -s rep/index.html ] || fail "no report page"

# a bad value is refused with the field named
exp bad 0
out=$("$NETSPACE" search --experiment bad.json --db b.db 2>&1); [ $? != 0 ] || fail "eval_every 0 accepted"
echo "$out" | grep -q "recipe.eval_every: 0 is not in 1..100000" || fail "message: $out"
[ ! -e b.db ] || fail "a db was made for a bad experiment"
"$NETSPACE" train --help | grep -q -- "--eval-every N" || fail "train --help"
echo "eval_every: ok"
