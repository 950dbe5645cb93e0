#!/usr/bin/env bash
# The flakiness check of issue 12 point 8: the whole suite N times (default 5) on a loaded machine.
# A fresh clone of this checkout's HEAD (nothing of the working tree leaks in), a CPU-burning neighbour
# for the whole series, run 1 = CI's own command (it installs the venv), the others scripts/test.sh.
# One summary line per run in $OUT/summary.txt, each run's output in $OUT/run_N.txt.
#
#   scripts/loaded-runs.sh [RUNS] [OUT]      e.g. scripts/loaded-runs.sh 5 /tmp/loaded
set -u
runs=${1:-5}
out=${2:-/tmp/gotong-loaded-runs}
src=$(git rev-parse --show-toplevel)
clone=$(mktemp -d /tmp/gotong-loaded-clone.XXXXXX)
mkdir -p "$out"
git clone -q "$src" "$clone" && cd "$clone" || exit 1
python3 -c "while True: pass" & burner=$!
trap 'kill $burner' EXIT
echo "commit $(git rev-parse --short HEAD), clone $clone" > "$out/summary.txt"
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if [ "$i" = 1 ]; then CI=true bash .ci/run > "$out/run_$i.txt" 2>&1; else scripts/test.sh > "$out/run_$i.txt" 2>&1; fi
  rc=$?
  [ $rc = 0 ] || failed=1
  echo "run $i rc=$rc $(( $(date +%s) - start ))s load=$(cut -d' ' -f1-3 /proc/loadavg) $(tail -n 1 "$out/run_$i.txt")" >> "$out/summary.txt"
done
cat "$out/summary.txt"
exit $failed
