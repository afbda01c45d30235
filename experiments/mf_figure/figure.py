#!/usr/bin/env python3
"""The README's multi-fidelity figure: the best test error found against the epochs spent,
for the studies experiments/mf_figure/run.sh wrote (mf_<kind>_s<seed>), read from the db.

An "event" is a trained piece of work in the order it ended: a random-search trial (9
epochs), a rung of a SHA/ASHA trial (the epochs trained for it). After each event, the
incumbent is the lowest test error of any model evaluated so far (any rung: every rung's
model is a real model with that measured error). Per method: the mean over the seeds on a
common grid of epochs (thick), each seed (thin), and a table of the final numbers.

    python3 experiments/mf_figure/figure.py results/mf_figure/mf.db plots/mf_search.png
Needs only Python's standard library and gnuplot (as `netspace plot` does)."""
import os
import sqlite3
import statistics
import subprocess
import sys


def events(db, study):
    sid = db.execute("select id from studies where name = ?", (study,)).fetchone()
    if not sid:
        return None
    sid = sid[0]
    rungs = db.execute("select count(*) from rungs where study_id = ?", (sid,)).fetchone()[0]
    if rungs:
        rows = db.execute(
            "select ended, trained, test_error from rungs where study_id = ? and "
            "test_error is not null order by ended", (sid,)).fetchall()
    else:
        rows = db.execute(
            "select t.ended, (select count(*) from epochs e where e.study_id = t.study_id and "
            "e.trial = t.trial), t.test_error from trials t where t.study_id = ? and "
            "t.state = 'complete' order by t.ended", (sid,)).fetchall()
    out, spent, best = [], 0, float("inf")
    for _, trained, err in rows:
        spent += trained
        best = min(best, err)
        out.append((spent, best))
    return out


def at(curve, x):
    """The incumbent after x epochs (None before the first event)."""
    y = None
    for e, b in curve:
        if e > x:
            break
        y = b
    return y


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    dbfile, out = sys.argv[1], sys.argv[2]
    db = sqlite3.connect("file:%s?mode=ro" % dbfile, uri=True)
    kinds = ["random", "sha", "asha"]
    label = {"random": "random search", "sha": "successive halving", "asha": "ASHA"}
    curves = {k: [c for s in (1, 2, 3) if (c := events(db, "mf_%s_s%d" % (k, s)))]
              for k in kinds}
    base = os.path.splitext(out)[0]
    xmax = max(c[-1][0] for k in kinds for c in curves[k])
    with open(base + ".dat", "w") as f:
        for k in kinds:
            f.write("# %s: epochs, mean best test error over %d seeds\n" % (k, len(curves[k])))
            for x in range(1, xmax + 1):
                ys = [at(c, x) for c in curves[k]]
                if all(y is not None for y in ys):
                    f.write("%d %.4f\n" % (x, statistics.mean(ys)))
            f.write("\n\n")
        for k in kinds:
            for c in curves[k]:
                f.write("# %s, one seed: epochs, best test error\n" % k)
                prev = None
                for e, b in c:
                    if prev is not None:
                        f.write("%d %.4f\n" % (e, prev))
                    f.write("%d %.4f\n" % (e, b))
                    prev = b
                f.write("\n\n")
    n = len(kinds)
    plots = []
    colors = {"random": "#1f77b4", "sha": "#d62728", "asha": "#2ca02c"}
    for i, k in enumerate(kinds):
        plots.append("'%s.dat' index %d with lines lw 3 lc rgb '%s' title '%s (mean of %d seeds)'"
                     % (os.path.basename(base), i, colors[k], label[k], len(curves[k])))
    idx = n
    for k in kinds:
        for _ in curves[k]:
            plots.append("'%s.dat' index %d with lines lw 1 lc rgb '%s' dt 2 notitle"
                         % (os.path.basename(base), idx, colors[k]))
            idx += 1
    term = "pngcairo size 800,560" if out.endswith(".png") else "svg size 800,560"
    with open(base + ".gp", "w") as f:
        f.write("set terminal %s\nset output '%s'\n" % (term, os.path.basename(out)))
        f.write("set title 'Best test error found vs epochs spent (tiny RegNetX, Fashion-MNIST "
                "3k/1k)'\n")
        f.write("set xlabel 'epochs spent (all trials)'\n"
                "set ylabel 'best test error (%; above 50 off the top)'\n")
        f.write("set key top right\nset grid\nset yrange [12:50]\n")
        f.write("plot " + ", \\\n     ".join(plots) + "\n")
    subprocess.run(["gnuplot", os.path.basename(base) + ".gp"], cwd=os.path.dirname(out) or ".",
                   check=True)
    print("| method | seeds | epochs spent (each) | best test error (each) | mean |")
    print("|---|---|---|---|---|")
    for k in kinds:
        ends = [c[-1] for c in curves[k]]
        print("| %s | %d | %s | %s | %.2f %% |" % (
            label[k], len(ends), ", ".join(str(e) for e, _ in ends),
            ", ".join("%.2f" % b for _, b in ends), statistics.mean(b for _, b in ends)))
    # at equal budget: each method's incumbent at the smallest total any study spent
    x = min(c[-1][0] for k in kinds for c in curves[k])
    print("\nat %d epochs: " % x + "; ".join(
        "%s %.2f %%" % (label[k], statistics.mean(at(c, x) for c in curves[k])) for k in kinds))


if __name__ == "__main__":
    main()
