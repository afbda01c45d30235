#!/usr/bin/env bash
# netspace train's checkpoints from the command line: --save writes a full checkpoint after
# every epoch; a run stopped by SIGTERM or killed with SIGKILL continues with --resume and
# gives the uninterrupted run's numbers; --stop-after then --resume equals the full run;
# --load starts from weights (--eval-only evaluates them); mismatches and damaged files are
# clear errors.
set -u
mkdir -p "$TMP"
cd "$TMP" || exit 1
rm -f ./*.ckpt ./*.ckpt.tmp*
fail() { echo "FAIL: $*"; exit 1; }
ns() { "$NETSPACE" "$@"; }

M=(--regnet "depth=2 w0=8 wa=8 wm=2 group_w=8" --stem-w 8 --data synthetic --train-limit 256
   --test-limit 128 --batch 32 --lr 0.3 --flip --crop-pad 2 --quiet --json)
# the numbers of a run, without its timing
nums() { tail -n 1 | sed 's/"seconds":[0-9.]*,"img_per_s":[0-9.]*,//'; }

ns train --help | grep -q -- "--resume FILE" || fail "train --help lacks --resume"
full=$(ns train "${M[@]}" --epochs 3 | nums)
echo "$full" | grep -q '"status":"complete","epochs":3' || fail "full run: $full"

# --save: the finished run's file is a full checkpoint; resuming it only evaluates
out=$(ns train "${M[@]}" --epochs 3 --save a.ckpt | nums)
[ "$out" = "$full" ] || fail "--save changed the run: $out vs $full"
[ -s a.ckpt ] && ! ls a.ckpt.tmp* >/dev/null 2>&1 || fail "a.ckpt not written (or a temp file left)"
[ "$(head -c 8 a.ckpt | od -An -c | tr -d ' ')" = 'NSCKPT\r\n' ] || fail "a.ckpt magic"

# --stop-after 2 then --resume: the full run's numbers (the model is the checkpoint's)
ns train "${M[@]}" --epochs 3 --stop-after 2 --save b.ckpt | grep -q '"epochs":2' ||
    fail "--stop-after 2"
out=$(ns train "${M[@]:4}" --epochs 3 --resume b.ckpt | nums)
[ "$out" = "$full" ] || fail "--stop-after then --resume: $out vs $full"

# SIGTERM: stops at the next step, the file holds the last whole epoch, resume finishes
run_and_signal() { # SIG FILE: start a 3-epoch run saving to FILE, signal it after epoch 1
    "$NETSPACE" train "${M[@]}" --epochs 3 --save "$2" >"$2.out" 2>"$2.err" &
    local pid=$! waited=0
    while [ ! -e "$2" ]; do
        kill -0 $pid 2>/dev/null || fail "the run ended before its first checkpoint"
        sleep 0.05
        waited=$((waited + 1))
        [ $waited -lt 2400 ] || fail "no checkpoint after 120 s"
    done
    kill -"$1" $pid
    wait $pid
}
run_and_signal TERM t.ckpt; rc=$?
[ $rc = 1 ] || fail "SIGTERM: exit $rc, want 1"
grep -q "t.ckpt holds epoch [12]: continue with the same command and --resume t.ckpt" t.ckpt.err ||
    fail "SIGTERM message: $(cat t.ckpt.err)"
grep -q '"status":"stopped"' t.ckpt.out || fail "SIGTERM status: $(cat t.ckpt.out)"
out=$(ns train "${M[@]}" --epochs 3 --save t.ckpt --resume t.ckpt | nums)
[ "$out" = "$full" ] || fail "SIGTERM then --resume: $out vs $full"

# SIGKILL: nothing runs at exit, the atomic writes leave a whole checkpoint all the same
run_and_signal KILL k.ckpt
out=$(ns train "${M[@]}" --epochs 3 --save k.ckpt --resume k.ckpt | nums)
[ "$out" = "$full" ] || fail "SIGKILL then --resume: $out vs $full"

# --resume of a finished run trains nothing, and --save still writes it
ns train "${M[@]}" --epochs 3 --resume a.ckpt --save done.ckpt >/dev/null || fail "resume of a finished run"
cmp -s a.ckpt done.ckpt || fail "--save after a --resume that had nothing to train did not write it"

# --load + --eval-only: the saved weights give the saved run's test error
terr=$(echo "$full" | sed 's/.*"test_error":\([0-9.]*\).*/\1/')
out=$(ns train "${M[@]:4}" --epochs 3 --load a.ckpt --eval-only | nums)
echo "$out" | grep -q "\"test_error\":$terr," || fail "--load --eval-only: $out, want $terr"
# --weights-only: smaller, loads, but does not resume
ns train "${M[@]}" --epochs 1 --save w.ckpt --weights-only >/dev/null || fail "--weights-only"
[ "$(stat -c %s w.ckpt)" -lt "$(stat -c %s a.ckpt)" ] || fail "weights-only file is not smaller"
ns train "${M[@]:4}" --epochs 1 --load w.ckpt --eval-only >/dev/null || fail "--load weights-only"
out=$(ns train "${M[@]}" --epochs 1 --resume w.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "weights-only" || fail "resume of weights only: $rc $out"

# mismatches are errors that say what differs
out=$(ns train "${M[@]}" --epochs 3 --seed 2 --resume b.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "another recipe" || fail "other recipe: $rc $out"
out=$(ns train "${M[@]}" --stem-w 16 --epochs 3 --resume b.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "another model" || fail "other model: $rc $out"
head -c 1000 a.ckpt >cut.ckpt
out=$(ns train "${M[@]}" --load cut.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "cut.ckpt: truncated" || fail "truncated: $rc $out"
cp a.ckpt bad.ckpt && printf 'x' | dd of=bad.ckpt bs=1 seek=3000 conv=notrunc 2>/dev/null
out=$(ns train "${M[@]}" --load bad.ckpt 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "bad.ckpt: checksum mismatch" || fail "corrupt: $rc $out"
out=$(ns train "${M[@]}" --load "$SRC/README.md" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "not a netspace checkpoint" || fail "not a checkpoint: $out"

# usage errors (2)
ns train "${M[@]}" --resume a.ckpt --load a.ckpt >/dev/null 2>&1; [ $? = 2 ] || fail "--resume --load"
ns train "${M[@]}" --weights-only >/dev/null 2>&1; [ $? = 2 ] || fail "--weights-only without --save"
ns train "${M[@]}" --epochs 2 --stop-after 3 >/dev/null 2>&1; [ $? = 2 ] || fail "--stop-after > --epochs"
ns train "${M[@]}" --eval-only --save x.ckpt >/dev/null 2>&1; [ $? = 2 ] || fail "--eval-only --save"
ns train --data synthetic >/dev/null 2>&1; [ $? = 2 ] || fail "no model, no checkpoint"
echo ok
