#!/usr/bin/env bash
# Instructions per 1,000 masked rows under callgrind: deterministic, so load does not change them (wall-clock
# time does). Bundles bench/masking-instructions.ts with esbuild (no loader thread under valgrind) and counts
# only its measured passes: it calls os.loadavg() before and after them, callgrind dumps its counters on each
# entry into uv_loadavg, and the second dump holds what ran in between. Startup and JIT warm-up vary
# by hundreds of millions of instructions from run to run, so they must not be counted.
#   bench/masking-instructions.sh [pg|mysql|both] [PASSES=10] [BUNDLE] [VARIANTS="plain rules all"]
# (~2-5 minutes per variant: valgrind runs Node's startup slowly, though it is not counted.)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
passes=${2:-10}
bundle=${3:-}
read -r -a variants <<<"${4:-plain rules all}"
if [ -z "$bundle" ]; then
  # Inside the worktree so the external packages resolve from its node_modules. The banner hides the bundle's
  # path from the benches' "run as a script" checks (every module of a bundle shares one import.meta.url).
  bundle=dist/masking-instructions.mjs
  npx esbuild bench/masking-instructions.ts --bundle --platform=node --format=esm --packages=external \
    --log-level=warning --banner:js='process.argv[1] = "(bundle)";' --outfile="$bundle"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # proto variant -> instructions in the measured passes
  rm -f "$out"/cg.*
  valgrind --tool=callgrind --dump-before=uv_loadavg --callgrind-out-file="$out/cg.%p" \
    node --single-threaded "$bundle" "$1" "$2" "$passes" >/dev/null 2>&1
  sed -n 's/^summary: \([0-9]*\).*/\1/p' "$(ls "$out"/cg.*.2)"
}
protos=(pg mysql)
[ "$which" = both ] || protos=("$which")
for proto in "${protos[@]}"; do
  declare -A per
  for variant in "${variants[@]}"; do
    per[$variant]=$(($(count "$proto" "$variant") / passes))
    echo "$proto $variant: ${per[$variant]} instructions per 1,000 rows"
  done
  if [ -n "${per[plain]:-}" ] && [ -n "${per[rules]:-}" ] && [ -n "${per[all]:-}" ]; then
    echo "$proto added by 3 rules: $((per[rules] - per[plain])); by 3 rules + all detectors: $((per[all] - per[plain]))"
  fi
  unset per
done
