#!/usr/bin/env bash
# Prints the README's BN-order table (markdown): studies that differ only in bn_order were
# sampled with the same seed, so trial i of one is trial i of the other with the other BN
# order. Per pair of studies: the pairs complete in both (and of equal flops, which checks
# that they are the same architectures), the median error of each, how often the after_act
# model is better, and the mean and median of the paired difference (after - before).
# Usage: plots/paired_table.sh [NETSPACE] [DB]
set -euo pipefail
cd "$(dirname "$0")/.."
ns=${1:-build/release/netspace}
db=${2:-results/studies.db}
echo "| before_act study | pairs | median before | median after | after better | mean diff | median diff |"
echo "|---|---|---|---|---|---|---|"
for s in residual plain regnetx; do
  "$ns" query --db "$db" sql --csv "
    WITH p AS (SELECT a.test_error AS eb, b.test_error AS ea, b.test_error - a.test_error AS d
               FROM trials a JOIN studies sa ON sa.id = a.study_id AND sa.name = '$s'
               JOIN trials b ON b.trial = a.trial AND b.flops = a.flops
               JOIN studies sb ON sb.id = b.study_id AND sb.name = '${s}_bn_after'
               WHERE a.state = 'complete' AND b.state = 'complete'),
         n AS (SELECT count(*) AS n FROM p),
         med AS (SELECT
           (SELECT avg(eb) FROM (SELECT eb FROM p ORDER BY eb LIMIT 2 - (SELECT n FROM n) % 2
                                 OFFSET ((SELECT n FROM n) - 1) / 2)) AS mb,
           (SELECT avg(ea) FROM (SELECT ea FROM p ORDER BY ea LIMIT 2 - (SELECT n FROM n) % 2
                                 OFFSET ((SELECT n FROM n) - 1) / 2)) AS ma,
           (SELECT avg(d) FROM (SELECT d FROM p ORDER BY d LIMIT 2 - (SELECT n FROM n) % 2
                                OFFSET ((SELECT n FROM n) - 1) / 2)) AS md)
    SELECT '$s', n, printf('%.2f', mb), printf('%.2f', ma),
           (SELECT sum(d < 0) FROM p) || ' of ' || n,
           printf('%+.2f', (SELECT avg(d) FROM p)), printf('%+.2f', md)
    FROM n, med" | tail -n +2 | sed 's/,/ | /g; s/^/| /; s/$/ |/'
done
