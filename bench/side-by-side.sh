#!/bin/bash
# ejabberd (with the anchor harness's own run-all.sh, unchanged) and Parley (bench/run.ts),
# interleaved round by round in one session, so that the ratio is measured side by side:
#
#   ROUNDS=2 SCENARIOS="A1 A2 B C" bench/side-by-side.sh
#
# DRIVER=ws measures Parley with the ws library as the load generator's client (default: raw).
#
# Needs ejabberd from Debian (apt-get install -y ejabberd) and the anchor harness, which is copied
# to $ANCHOR (a writable place: its scripts write results/ beside themselves). Before each block
# the script waits until the machine (shared with other test runs) is quiet. Everything talks to
# 127.0.0.1; each block is bounded by `timeout`; servers are stopped by PID by their runners.
# Results: $OUT/ejabberd-raw.jsonl (the anchor's raw.jsonl), $OUT/parley-round<N>/, $OUT/summary.md
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ANCHOR_SRC=${ANCHOR_SRC:-"$ROOT/../shared/anchors/xmpp"}
[ -f "$ANCHOR_SRC/bench.js" ] || ANCHOR_SRC=/work/shared/anchors/xmpp   # when run from a copy of the repo
ANCHOR=${ANCHOR:-/tmp/xmpp-anchor-harness}
ROUNDS=${ROUNDS:-2}
SCENARIOS=${SCENARIOS:-"A1 A2 B C"}
RUN_ID=${RUN_ID:-sbs-$(date -u +%Y%m%dT%H%M%SZ)}
OUT=${OUT:-/tmp/parley-side-by-side/$RUN_ID}
QUIET_PCT=${QUIET_PCT:-20}
mkdir -p "$OUT"
# Ctrl-C or SIGTERM: pass it on to the running block (each runner stops its server by PID).
CHILD=""
trap 'log "interrupted"; [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null; wait; exit 130' INT TERM
run() { "$@" & CHILD=$!; wait "$CHILD"; CHILD=""; }
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/side-by-side.log" >&2; }

if [ ! -f "$ANCHOR/bench.js" ]; then
  cp -r "$ANCHOR_SRC" "$ANCHOR" && chmod -R u+w "$ANCHOR" && rm -rf "$ANCHOR/results"/*
  (cd "$ANCHOR" && npm ci --no-audit --no-fund >/dev/null 2>&1) || log "npm ci in $ANCHOR failed (only the xmpp.js cross-check needs it)"
fi
quiet() { run env -C "$ROOT" timeout 700 node --import tsx bench/load.ts wait-quiet --busy-pct "$QUIET_PCT" --max-s 600 >> "$OUT/quiet.jsonl" 2>> "$OUT/side-by-side.log"; }

T0=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
  log "round $r: waiting for a quiet machine; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  quiet
  log "round $r: ejabberd (anchor run-all.sh, REPS=1, SCENARIOS=$SCENARIOS)"
  [ -d "$ANCHOR" ] || { log "no anchor harness at $ANCHOR"; exit 1; }
  run env -C "$ANCHOR" RUN_ID="$RUN_ID" REPS=1 SERVERS=ejabberd SCENARIOS="$SCENARIOS" timeout 1800 scripts/run-all.sh >> "$OUT/ejabberd.out" 2>&1
  log "round $r: waiting for a quiet machine; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  quiet
  log "round $r: parley (bench/run.ts --reps 1)"
  run env -C "$ROOT" timeout 1800 node --import tsx bench/run.ts --scenario "${SCENARIOS// /,}" --reps 1 --data-dir "$OUT/parley-data" --driver "${DRIVER:-raw}" \
      --quiet-machine-pct "$QUIET_PCT" --out "$OUT/parley-round$r" >> "$OUT/parley.out" 2>&1
done
cp "$ANCHOR/results/$RUN_ID/raw.jsonl" "$OUT/ejabberd-raw.jsonl"
cat "$OUT"/parley-round*/raw.jsonl > "$OUT/parley-raw.jsonl"
(cd "$ROOT" && node --import tsx bench/summarize.ts --md "$OUT/summary.md" "$OUT/parley-raw.jsonl" "$OUT/ejabberd-raw.jsonl")
log "side by side took $(( $(date +%s) - T0 )) s; summary: $OUT/summary.md"
cat "$OUT/summary.md"
