#!/usr/bin/env bash
# Prints the README's Results table (markdown) from the studies db: per study the complete
# trials, best / median / mean test error, the share under 30 %, mean complexity and the
# summed training time. Usage: plots/results_table.sh [NETSPACE] [DB]
set -euo pipefail
cd "$(dirname "$0")/.."
ns=${1:-build/release/netspace}
db=${2:-results/studies.db}
echo "| study | n | best | median | mean | < 30 % | mean Mflops | training time |"
echo "|---|---|---|---|---|---|---|---|"
"$ns" query --db "$db" sql --csv "
  WITH c AS (SELECT s.id, s.name, t.test_error, t.flops, t.wall_s,
                    row_number() OVER (PARTITION BY s.id ORDER BY t.test_error) AS r,
                    count(*) OVER (PARTITION BY s.id) AS n
             FROM trials t JOIN studies s ON s.id = t.study_id WHERE t.state = 'complete')
  SELECT name, n, printf('%.2f', min(test_error)),
         printf('%.2f', avg(CASE WHEN r IN ((n + 1) / 2, (n + 2) / 2) THEN test_error END)),
         printf('%.2f', avg(test_error)),
         printf('%.0f %%', 100.0 * sum(test_error < 30) / n),
         printf('%.1f', avg(flops) / 1e6), printf('%.0f min', sum(wall_s) / 60)
  FROM c GROUP BY id ORDER BY id" | tail -n +2 | sed 's/,/ | /g; s/^/| /; s/$/ |/'
