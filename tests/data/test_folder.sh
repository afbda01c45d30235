# Image folders (--data folder, "data": {"name": "folder"}): Fashion-MNIST test images
# written as PNG and JPEG class-folder trees by make_image_folder.py (PIL), checked against
# the same images as IDX files:
# - the PNG folder's cache holds exactly the IDX pixels and labels (read with the cache
#   format of src/data/folder.c), gray (1 channel) and replicated to RGB (3 channels);
# - training from the PNG folder gives the errors of training from IDX, same seed;
# - the JPEG folder is within a tolerance of the IDX pixels;
# - broken files are skipped, named on stderr and counted; --strict refuses them;
# - the cache is reused, and rebuilt when a file is touched or removed;
# - clear errors for a missing folder, no train/, no classes, an empty class folder, a test
#   class unknown to train, no test folder without --val-split;
# - a search over an image-folder experiment (decoded once, mapped by the trials).
set -u
: "${NETSPACE:?}" "${SRC:?}" "${TMP:?}"
rm -rf "$TMP" && mkdir -p "$TMP"
PY=/usr/bin/python3
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
"$PY" -c "import PIL" 2>/dev/null || fail "python3-pil is missing (scripts/deps.sh installs it)"
"$PY" "$SRC/tests/data/make_image_folder.py" /usr/share/datasets/fashion-mnist "$TMP" 300 100 ||
    fail "make_image_folder.py"
TRAIN=(--bench-net --epochs 2 --batch 32 --seed 5 --json --quiet)
run() { "$NETSPACE" train "${TRAIN[@]}" "$@"; }
# the result line without its timing fields
result() { grep '"status"' | sed -E 's/"seconds":[^,]*,"img_per_s":[^,]*,//'; }

# --- the cache holds the IDX pixels exactly (PNG) or nearly (JPEG) ---------------------
run --data folder --data-dir "$TMP/png" --im-size 28 --channels 1 >"$TMP/png1.out" 2>"$TMP/err" ||
    fail "PNG folder: $(cat "$TMP/err")"
run --data folder --data-dir "$TMP/png" --im-size 28 >/dev/null 2>"$TMP/err" || fail "PNG RGB: $(cat "$TMP/err")"
run --data folder --data-dir "$TMP/jpg" --im-size 28 --channels 1 >"$TMP/jpg.out" 2>"$TMP/err" ||
    fail "JPEG folder: $(cat "$TMP/err")"
cat >"$TMP/check.py" <<'EOF'
import struct, sys
def cache(path):
    b = open(path, "rb").read()
    assert b[:8] == b"NSIMGC1\n", "magic"
    ver, S, C, K, nt, ne, skipped, has_eval = struct.unpack("<8I", b[8:40])
    fp, tx, ex, ty, ey, names, nlen, flen = struct.unpack("<8Q", b[40:104])
    assert ver == 1 and flen == len(b), "version or length"
    img = S * S * C
    cls = b[names:names + nlen].split(b"\0")[:K]
    return dict(S=S, C=C, K=K, classes=[c.decode() for c in cls], skipped=skipped,
                train=(b[tx:tx + nt * img], b[ty:ty + nt]), eval=(b[ex:ex + ne * img], b[ey:ey + ne]))
def idx(d, base):
    x = open(f"{d}/{base}-images-idx3-ubyte", "rb").read()[16:]
    y = open(f"{d}/{base}-labels-idx1-ubyte", "rb").read()[8:]
    return x, y
kind, path, idxdir = sys.argv[1:4]
c = cache(path)
assert c["classes"] == [f"c{i}" for i in range(10)], c["classes"]
for split, base in (("train", "train"), ("eval", "t10k")):
    x, y = c[split]
    ix, iy = idx(idxdir, base)
    assert y == iy, f"{split}: labels differ"
    if c["C"] == 3:
        assert x[0::3] == x[1::3] == x[2::3], "gray not replicated"
        x = x[0::3]
    assert len(x) == len(ix), f"{split}: {len(x)} bytes, want {len(ix)}"
    if kind == "exact":
        assert x == ix, f"{split}: pixels differ"
    else:
        d = [abs(a - b) for a, b in zip(x, ix)]
        mad = sum(d) / len(d)
        print(f"{split}: JPEG mean abs diff {mad:.3f}, max {max(d)}")
        assert mad < 1.5 and max(d) < 64, f"{split}: JPEG too far: mean {mad}, max {max(d)}"
EOF
"$PY" "$TMP/check.py" exact "$TMP/png/.netspace-cache/28px-1ch.nsc" "$TMP/idx" || fail "PNG gray cache != IDX"
"$PY" "$TMP/check.py" exact "$TMP/png/.netspace-cache/28px-3ch.nsc" "$TMP/idx" || fail "PNG RGB cache != IDX"
"$PY" "$TMP/check.py" jpeg "$TMP/jpg/.netspace-cache/28px-1ch.nsc" "$TMP/idx" || fail "JPEG cache too far from IDX"

# --- training from the PNG folder = training from IDX -----------------------------------
run --data fashion-mnist --data-dir "$TMP/idx" >"$TMP/idx.out" 2>"$TMP/err" || fail "IDX: $(cat "$TMP/err")"
[ "$(result <"$TMP/png1.out")" = "$(result <"$TMP/idx.out")" ] ||
    fail "PNG folder and IDX train differently: $(result <"$TMP/png1.out") vs $(result <"$TMP/idx.out")"
grep -q '"skipped":0,"cache_built":true' "$TMP/png1.out" || fail "first load: $(cat "$TMP/png1.out")"
# JPEG: same shapes, errors in the same range (not equal: the pixels differ a little)
"$PY" - "$TMP/jpg.out" "$TMP/idx.out" <<'EOF' || fail "JPEG training is far from IDX training"
import json, sys
a, b = (json.loads([l for l in open(p) if '"status"' in l][0]) for p in sys.argv[1:3])
assert a["status"] == "complete", a
assert abs(a["test_error"] - b["test_error"]) < 15, (a["test_error"], b["test_error"])
EOF

# --- the cache is reused, and rebuilt when the folder changes --------------------------
run --data folder --data-dir "$TMP/png" --im-size 28 --channels 1 >"$TMP/o" 2>&1 || fail "reuse run"
grep -q '"cache_built":false' "$TMP/o" || fail "an unchanged folder rebuilt its cache"
[ "$(result <"$TMP/o")" = "$(result <"$TMP/idx.out")" ] || fail "the reused cache trains differently"
f=$(ls "$TMP/png/train/c3" | head -1)
touch -d "2001-01-01" "$TMP/png/train/c3/$f"
run --data folder --data-dir "$TMP/png" --im-size 28 --channels 1 >"$TMP/o" 2>&1 || fail "touched run"
grep -q '"cache_built":true' "$TMP/o" || fail "a touched file did not rebuild the cache"
rm "$TMP/png/train/c3/$f"
run --data folder --data-dir "$TMP/png" --im-size 28 --channels 1 >"$TMP/o" 2>&1 || fail "removed run"
grep -q '"train":299,.*"cache_built":true' "$TMP/o" || fail "a removed file: $(grep data "$TMP/o")"
ls "$TMP/png/.netspace-cache/" | grep -q tmp && fail "a temp file was left beside the cache"
# two loads at once decode once: the second waits on the lock and maps the first's cache
for i in 1 2; do
    run --data folder --data-dir "$TMP/jpg" --im-size 24 --channels 1 --train-limit 64 \
        --test-limit 16 --epochs 1 >"$TMP/par$i" 2>&1 &
done
wait
[ "$(cat "$TMP/par1" "$TMP/par2" | grep -c '"cache_built":true')" = 1 ] ||
    fail "two concurrent loads: $(cat "$TMP/par1" "$TMP/par2")"
# another size is another cache; an explicit cache path is used
run --data folder --data-dir "$TMP/png" --im-size 16 --data-cache "$TMP/c16.nsc" --test-limit 10 \
    >"$TMP/o" 2>&1 || fail "--im-size 16 --data-cache: $(cat "$TMP/o")"
[ -s "$TMP/c16.nsc" ] || fail "--data-cache was not written"

# --- broken files are skipped, named and counted; --strict refuses them ------------------
cp -r "$TMP/png" "$TMP/bad" && rm -rf "$TMP/bad/.netspace-cache"
head -c 300 "$(ls -d "$TMP"/png/train/c0/* | head -1)" >"$TMP/bad/train/c0/trunc.png"
head -c 400 "$(ls -d "$TMP"/jpg/train/c1/* | head -1)" >"$TMP/bad/train/c1/trunc.jpg"
echo "not an image" >"$TMP/bad/train/c2/notes.txt"
: >"$TMP/bad/test/c4/empty.png"
run --data folder --data-dir "$TMP/bad" --im-size 28 --channels 1 >"$TMP/o" 2>"$TMP/err" ||
    fail "a folder with broken files: $(cat "$TMP/err")"
grep -q '"skipped":4' "$TMP/o" || fail "skipped count: $(grep data "$TMP/o")"
for b in train/c0/trunc.png train/c1/trunc.jpg train/c2/notes.txt test/c4/empty.png; do
    grep -q "$TMP/bad/$b: .*(skipped)" "$TMP/err" || fail "$b not named on stderr: $(cat "$TMP/err")"
done
grep -q "trunc.jpg: corrupt JPEG" "$TMP/err" || fail "a truncated JPEG's reason: $(cat "$TMP/err")"
run --data folder --data-dir "$TMP/bad" --im-size 28 --channels 1 --strict >"$TMP/o" 2>"$TMP/err" &&
    fail "--strict accepted broken files (cache made without --strict)"
grep -q "$TMP/bad/train/c0/trunc.png: .*strict" "$TMP/err" || fail "--strict message: $(cat "$TMP/err")"
rm -rf "$TMP/bad/.netspace-cache"
run --data folder --data-dir "$TMP/bad" --im-size 28 --channels 1 --strict >"$TMP/o" 2>"$TMP/err" &&
    fail "--strict accepted broken files (decoding)"
grep -q "$TMP/bad/train/c0/trunc.png: corrupt PNG.*strict" "$TMP/err" || fail "--strict message: $(cat "$TMP/err")"

# --- clear errors ----------------------------------------------------------------------
expect_err() { # message-pattern, then netspace train arguments
    local pat=$1
    shift
    "$NETSPACE" train --bench-net --epochs 1 --quiet "$@" >"$TMP/o" 2>"$TMP/err" && fail "accepted: $*"
    grep -q -- "$pat" "$TMP/err" || fail "for $*: want '$pat', got: $(cat "$TMP/err")"
}
expect_err "$TMP/nowhere: No such file" --data folder --data-dir "$TMP/nowhere" --im-size 28
mkdir -p "$TMP/e1"
expect_err "$TMP/e1/train: cannot open" --data folder --data-dir "$TMP/e1" --im-size 28
mkdir -p "$TMP/e2/train"
expect_err "$TMP/e2/train: no class folders" --data folder --data-dir "$TMP/e2" --im-size 28
cp -r "$TMP/png" "$TMP/e3" && rm -rf "$TMP/e3/.netspace-cache" && mkdir "$TMP/e3/train/c9x"
expect_err "$TMP/e3/train/c9x: empty class folder" --data folder --data-dir "$TMP/e3" --im-size 28
rmdir "$TMP/e3/train/c9x" && mkdir "$TMP/e3/test/zz" && cp "$TMP/png/test/c0/"* "$TMP/e3/test/zz/"
expect_err "$TMP/e3/test/zz: class folder not in $TMP/e3/train" --data folder --data-dir "$TMP/e3" --im-size 28
rm -rf "$TMP/e3/test"
expect_err "$TMP/e3: no test/ (or val/, validation/) folder: give --val-split" \
    --data folder --data-dir "$TMP/e3" --im-size 28
"$NETSPACE" train "${TRAIN[@]}" --data folder --data-dir "$TMP/e3" --im-size 28 --val-split 0.2 \
    >"$TMP/o" 2>"$TMP/err" || fail "--val-split on a folder without test/: $(cat "$TMP/err")"
grep -q '"eval":60' "$TMP/o" || fail "the validation split: $(grep data "$TMP/o")"
mkdir -p "$TMP/e3/train/c0/sub"
"$NETSPACE" train "${TRAIN[@]}" --data folder --data-dir "$TMP/e3" --im-size 28 --val-split 0.2 \
    >"$TMP/o" 2>"$TMP/err" || fail "a sub-folder in a class folder: $(cat "$TMP/err")"
grep -q "c0/sub: not a regular file (skipped)" "$TMP/err" || fail "a sub-folder was not named: $(cat "$TMP/err")"
"$NETSPACE" train --bench-net --data folder --data-dir "$TMP/png" >/dev/null 2>&1
[ $? = 2 ] || fail "--data folder without --im-size is not a usage error"
"$NETSPACE" train --bench-net --im-size 28 --epochs 1 --train-limit 64 >/dev/null 2>&1
[ $? = 2 ] || fail "--im-size without --data folder is not a usage error"
"$NETSPACE" train --bench-net --data cifar10 --im-size 28 >/dev/null 2>&1
[ $? = 2 ] || fail "--im-size with --data cifar10 is not a usage error"

# --- a search on an image folder -------------------------------------------------------
cat >"$TMP/x.json" <<EOF
{"name": "folder_smoke", "space": "$SRC/spaces/tiny_regnetx.json", "samples": 2, "seed": 3,
 "data": {"name": "folder", "dir": "$TMP/png", "size": 16, "channels": 1},
 "recipe": {"epochs": 1, "batch": 32, "flip": true, "rotate": 10, "zoom": 0.1, "rrc_scale": 0.5},
 "threads": 1}
EOF
"$NETSPACE" search --experiment "$TMP/x.json" --db "$TMP/x.db" --quiet >"$TMP/o" 2>&1 ||
    fail "search on a folder: $(cat "$TMP/o")"
[ "$(sqlite3 -readonly "$TMP/x.db" "select count(*) from trials where state='complete'")" = 2 ] ||
    fail "search on a folder: trials not complete"
[ -s "$TMP/png/.netspace-cache/16px-1ch.nsc" ] || fail "the search did not make its cache"
# retraining a trial of the study loads the study's folder at the study's size
"$NETSPACE" train --db "$TMP/x.db" --trial 0 --epochs 1 --batch 32 --json --quiet >"$TMP/o" 2>&1 ||
    fail "train --db on a folder study: $(cat "$TMP/o")"
grep -q '"data":"folder","classes":10,"train":299,"eval":100,"skipped":0,"cache_built":false' "$TMP/o" ||
    fail "train --db on a folder study: $(cat "$TMP/o")"
# the files of a folder that did not decode are counted in the study (the bad tree: 4)
sed "s|$TMP/png|$TMP/bad|" "$TMP/x.json" >"$TMP/z.json"
"$NETSPACE" search --experiment "$TMP/z.json" --db "$TMP/z.db" --quiet >"$TMP/o" 2>&1 ||
    fail "search on a folder with broken files: $(cat "$TMP/o")"
[ "$(sqlite3 -readonly "$TMP/z.db" "select data_skipped from studies")" = 4 ] ||
    fail "skipped files not counted in the study: $(sqlite3 -readonly "$TMP/z.db" "select * from studies")"
grep -q "note: 4 files of the image folder did not decode" "$TMP/o" ||
    fail "the search's summary does not count skipped files: $(cat "$TMP/o")"
sed 's/"size": 16/"size": 16, "strikt": true/' "$TMP/x.json" >"$TMP/y.json"
"$NETSPACE" search --experiment "$TMP/y.json" --db "$TMP/y.db" --quiet >"$TMP/o" 2>&1 &&
    fail "an unknown data key was accepted"
grep -q "data.strikt: unknown key" "$TMP/o" || fail "unknown data key message: $(cat "$TMP/o")"
sed 's/"size": 16, //' "$TMP/x.json" >"$TMP/y.json"
"$NETSPACE" search --experiment "$TMP/y.json" --db "$TMP/y.db" --quiet >"$TMP/o" 2>&1 &&
    fail "a folder without size was accepted"
grep -q "data.size: missing" "$TMP/o" || fail "missing size message: $(cat "$TMP/o")"
echo "image folders: ok"
