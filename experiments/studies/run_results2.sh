#!/usr/bin/env bash
# Results II (issue #17): the studies of the README's "Results" section, each run with
# `mpirun -np NP netspace search` (default NP 3: a coordinator and two one-thread workers,
# for 2 cores) into its db under results/. Re-running resumes (finished trials are kept);
# raising "samples" in an experiment file and re-running grows that study.
# The progression and the families grow in rounds: every study of the set to 4 samples, then
# to 8, 16, 32, 64 and its file's "samples" (netspace search --samples), so that a run stopped at
# any point leaves every space or family with about as many models as the others.
# Usage: experiments/studies/run_results2.sh [NETSPACE] [NP] [STUDY...]
#   studies: fidelity, progression, families, scaling, best, best1m (default: fidelity)
set -euo pipefail
cd "$(dirname "$0")/../.."
ns=${1:-build/release/netspace}
np=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p results/logs
run() { # DB EXPERIMENT...
    local db=$1; shift
    for e in "$@"; do
        echo "== $e -> $db $(date -u +%FT%TZ) on $(nproc) cores of$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
        "$ns" --version | sed -n '1p; 4,5p' # the build, the CPU's ISA, the kernels it runs
        mpirun --oversubscribe -np "$np" "$ns" search --experiment "experiments/studies/$e.json" --db "$db"
    done
}
# the samples a study of the db has recorded (empty: not in the db yet), and how many of its
# trials are finished (complete or failed)
recorded() { # DB STUDY
    [ -e "$1" ] || return 0
    "$ns" query --db "$1" --csv sql \
        "SELECT json_extract(experiment, '\$.samples') FROM studies WHERE name = '$2'" | sed 1d
}
finished() { # DB STUDY
    "$ns" query --db "$1" --csv sql "SELECT count(*) FROM trials t JOIN studies s ON s.id = \
        t.study_id WHERE s.name = '$2' AND t.state IN ('complete', 'failed')" | sed 1d
}
rounds() { # DB EXPERIMENT... : each to 4, 8, 16, 32, 64 samples, then its file's own, in turn
    local db=$1; shift
    for n in 4 8 16 32 64 0; do
        for e in "$@"; do
            local file want have
            file=$(sed -n 's/^ *"samples": *\([0-9][0-9]*\).*/\1/p' "experiments/studies/$e.json")
            [ -n "$file" ] || { echo "experiments/studies/$e.json: no \"samples\" line" >&2; exit 2; }
            want=$(( n == 0 || n > file ? file : n ))
            have=$(recorded "$db" "$e")
            if [ -n "$have" ] && [ "$have" -gt "$want" ]; then
                [ "$n" = 0 ] && echo "== $e: the db holds $have samples, more than its file's $file; left as it is"
                continue
            fi
            # a finished study of this size: nothing to train (an unfinished one resumes)
            [ "$have" = "$want" ] && [ "$(finished "$db" "$e")" = "$want" ] && continue
            echo "== $e -> $db to $want samples $(date -u +%FT%TZ) on $(nproc) cores of$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
            "$ns" --version | sed -n '1p; 4,5p'
            mpirun --oversubscribe -np "$np" "$ns" search --experiment "experiments/studies/$e.json" \
                --db "$db" --samples "$want"
        done
    done
}
studies=${*:-fidelity}
for s in $studies; do
    case $s in
    # the per-epoch studies (10 epochs), then the same models on short budgets: paired
    # with the 10-epoch study (netspace compare --paired), they say which budget ranks alike;
    # _s2 is the 10-epoch study again from other training seeds: how alike two rankings at
    # the full budget are (the ceiling a short budget's rank correlation can reach).
    # Grown from 16 to 32 models a space, the two 10-epoch references come first (they are
    # the study the issue asks for: 32 RegNetX and 32 AnyNetX_A), then the 4-epoch twins
    # (the budget the studies below use), then the 1- and 2-epoch twins and the second seeds
    fidelity) run results/fidelity.db fidelity_regnetx fidelity_anynetx_a fidelity_regnetx_e4 \
        fidelity_anynetx_a_e4 fidelity_regnetx_e1 fidelity_anynetx_a_e1 fidelity_regnetx_e2 \
        fidelity_anynetx_a_e2 fidelity_regnetx_s2 fidelity_anynetx_a_s2 ;;
    # study 2, the progression, at the budget the fidelity study set (4 epochs): 100 models
    # a space (the paper's smallest), 65-70 core-hours in all at these sizes, grown in rounds
    progression) rounds results/progression.db progression_anynetx_a progression_anynetx_b \
        progression_anynetx_c progression_anynetx_d progression_anynetx_e progression_regnetx \
        progression_regnety ;;
    # study 3, every family compared (NDS-style) at the same budget and complexity regime,
    # 32 models a family to begin with (~35 core-hours here); RegNetX and RegNetY are the
    # progression's studies in the same db (the same space, seed and budget). The ViT trains
    # with its own recipe (AdamW, as in the ViT study), the NF nets with AGC.
    families) rounds results/progression.db families_vanilla families_resnet families_resnext \
        families_mobilenet_v1 families_mobilenet_v2 families_shufflenet_v1 families_shufflenet_v2 \
        families_efficientnet families_repvgg families_nfnet families_vit ;;
    # study 4, compound scaling: one RegNetX (trial 5 of the fidelity study, 5.0 M flops)
    # scaled to 2x and 4x its flops by depth, width, resolution and compound; the same nine
    # models from three study seeds, i.e. three training seeds (~6 core-hours here)
    scaling) run results/scaling.db scaling_regnetx_s1 scaling_regnetx_s2 scaling_regnetx_s3 ;;
    # study 5, the search for the best small model (under 100 k params) against the
    # Fashion-MNIST benchmark table: successive halving over 27 RegNetY (rungs of 1, 3 and 9
    # epochs of a 9-epoch schedule, selected on the validation split; 63 epochs, ~1.2
    # core-hours here); the chosen model is then retrained longer with augmentation (README)
    best) run results/best_small.db best_small ;;
    # study 5's second target, under 1 M parameters (the table's DenseNet-BC: 768 k, 4.6 %):
    # the same search over 27 RegNetY of 100 k-1 M params and 15-60 M flops (median of the
    # draws 28 M flops, 360 k params: ~4x best_small's models, ~5 core-hours here), then
    # the chosen model retrained longer with augmentation (README). Written, not yet run.
    best1m) run results/best_1m.db best_1m ;;
    *) echo "unknown study $s" >&2; exit 2 ;;
    esac
done
echo "== done $(date -u +%FT%TZ)"
