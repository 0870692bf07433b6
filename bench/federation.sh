#!/bin/bash
# Issue 8 in one session, round by round: the single-server A1 at the baseline commit and now, then
# F1 (compared with the A1 now of its own round, the run right before it), F2 and F3 on the current
# commit; and one summary of all of it:
#
#   ROUNDS=2 bench/federation.sh                      # the full set (on a quiet machine)
#   ROUNDS=1 SMALL=1 bench/federation.sh              # a check of the script: every step at a tiny scale
#
# Everything runs from a copy of its commit (`git archive`), so that edits in the working tree stay
# out: $BASE (default 162c7ef, the issue's baseline, before the hash chain) and $HEAD_REV (default
# HEAD), both with this tree's node_modules linked ($BASE_MODULES overrides it for the base: the
# packages of 162c7ef are a subset of today's, at the same versions, better-sqlite3 and SQLite
# included). Both copies get this tree's bench/ (the same load generator for
# both; bench/ only reads the server's account service to seed). A1 uses bench/run.ts on port
# $PORT (18391) with its own data directory per commit (their migrations differ).
# Before each block the machine is waited for until it is quiet (QUIET_PCT, 20 % busy for 3 s, at
# most 600 s; QUIET_PCT=0 turns every wait off, for checks on a busy machine).
# Overrides: A1=0 skips the A1 rounds; A1_SCENARIO (A1) is bench/run.ts's scenario; F1_ARGS,
# F2_ARGS, F3_ARGS are passed to each harness (SMALL=1 sets A1_SCENARIO=A1SMALL, 20 members and
# 10 x 20 messages, and F1 "--members 20 --msgs 20", F2 "--members 500 --joins 3", F3 "--events 500").
# F1, F2 and F3 run from the copy of $HEAD_REV. STEADY=1 adds, per round, the steady state:
# A1 thirty times longer (bench/run.ts --scenario A1XL) and F1 with --msgs 6000, one after the
# other on the copy of $HEAD_REV (about 40 s a round).
# Results: $OUT/a1-{base,head}-round<N>/ (bench/run.ts's output), $OUT/f{1,2,3}.jsonl (each record
# with its "round"), and
# $OUT/summary.md (bench/federation-summary.ts). Every step is bounded by `timeout`; servers are
# stopped by PID by their harnesses.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS=${ROUNDS:-2}
BASE=${BASE:-162c7ef}
HEAD_REV=${HEAD_REV:-HEAD}
PORT=${PORT:-18391}
QUIET_PCT=${QUIET_PCT:-20}
A1=${A1:-1}
SMALL=${SMALL:-0}
STEADY=${STEADY:-0}
if [ "$SMALL" = 1 ]; then
  A1_SCENARIO=${A1_SCENARIO:-A1SMALL}
  F1_ARGS=${F1_ARGS:-"--members 20 --msgs 20"}; F2_ARGS=${F2_ARGS:-"--members 500 --joins 3"}; F3_ARGS=${F3_ARGS:-"--events 500"}
fi
A1_SCENARIO=${A1_SCENARIO:-A1}
F1_ARGS=${F1_ARGS:-""}; F2_ARGS=${F2_ARGS:-""}; F3_ARGS=${F3_ARGS:-""}
RUN_ID=${RUN_ID:-fed-$(date -u +%Y%m%dT%H%M%SZ)}
OUT=${OUT:-/tmp/parley-federation/$RUN_ID}
mkdir -p "$OUT"
CHILD=""
trap 'log "interrupted"; [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null; wait; exit 130' INT TERM
run() { "$@" & CHILD=$!; wait "$CHILD"; local rc=$?; CHILD=""; return $rc; }
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/federation.log" >&2; }
quiet() {
  [ "$QUIET_PCT" = 0 ] && return 0
  log "waiting for a quiet machine; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  run env -C "$ROOT" timeout 700 node --import tsx bench/load.ts wait-quiet --busy-pct "$QUIET_PCT" --max-s 600 >> "$OUT/quiet.jsonl" 2>> "$OUT/federation.log"
}
# A copy of commit $1 in $2 with this tree's bench/ and node_modules $3 linked.
copy_tree() {
  rm -rf "$2" && mkdir -p "$2" || return 1
  git -C "$ROOT" archive "$1" | tar -x -C "$2" || return 1
  rm -rf "$2/bench" && cp -r "$ROOT/bench" "$2/bench"
  ln -s "$3" "$2/node_modules"
  echo "$(git -C "$ROOT" rev-parse --short "$1") (git archive; bench/ from $(git -C "$ROOT" rev-parse --short HEAD) working tree)" > "$2/COMMIT"
}

T0=$(date +%s)
{
  echo "run_id: $RUN_ID"; echo "date: $(date -u)"; echo "kernel: $(uname -r)"; echo "cpus: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "node: $(node --version)"; echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "base: $BASE  head: $(git -C "$ROOT" rev-parse --short "$HEAD_REV")  rounds: $ROUNDS  A1: $A1 ($A1_SCENARIO)"
  echo "F1 args: $F1_ARGS"; echo "F2 args: $F2_ARGS"; echo "F3 args: $F3_ARGS"
} > "$OUT/env.txt"

HEAD_DIR="$OUT/tree-head"
copy_tree "$HEAD_REV" "$HEAD_DIR" "$ROOT/node_modules" || { log "cannot copy $HEAD_REV"; exit 1; }
if [ "$A1" = 1 ]; then
  BASE_MODULES=${BASE_MODULES:-"$ROOT/node_modules"}
  BASE_DIR="$OUT/tree-base"
  copy_tree "$BASE" "$BASE_DIR" "$BASE_MODULES" || { log "cannot copy $BASE"; exit 1; }
fi
# A1 at the baseline and now, in turn, and the round's F1 right after A1 now: the two runs that the
# F1 target compares are a minute apart, not the whole A1 block apart (the machine drifts by 10-15 %
# between minutes; federation-report.ts pairs them by round).
a1_round() {
  local r=$1 which dir
  for which in base head; do
    dir=$([ $which = base ] && echo "$BASE_DIR" || echo "$HEAD_DIR")
    quiet
    log "round $r: A1 single server, $which ($(cat "$dir/COMMIT"))"
    run env -C "$dir" timeout 1800 node --import tsx bench/run.ts --scenario "$A1_SCENARIO" --reps 1 --port "$PORT" --data-dir "$OUT/a1-$which-data" \
      --quiet-machine-pct "$QUIET_PCT" --out "$OUT/a1-$which-round$r" >> "$OUT/a1.out" 2>&1 || log "  A1 $which round $r failed (see $OUT/a1.out)"
  done
}

if [ "$STEADY" = 1 ]; then
  for r in $(seq 1 "$ROUNDS"); do
    quiet
    log "round $r: the steady state, A1XL single server"
    run env -C "$HEAD_DIR" timeout 1800 node --import tsx bench/run.ts --scenario A1XL --reps 1 --port "$PORT" --data-dir "$OUT/a1-steady-data" \
      --quiet-machine-pct "$QUIET_PCT" --out "$OUT/a1-steady-round$r" >> "$OUT/a1.out" 2>&1 || log "  A1XL round $r failed (see $OUT/a1.out)"
    quiet
    log "round $r: the steady state, F1 --msgs 6000"
    run env -C "$HEAD_DIR" timeout 2400 node --import tsx bench/federation-f1.ts --msgs 6000 --label F1-steady --quiet-machine-pct "$QUIET_PCT" --out "$OUT/f1-steady.jsonl" >> "$OUT/f1.out" 2>&1 || log "  F1 steady round $r failed (see $OUT/f1.out)"
  done
fi

for r in $(seq 1 "$ROUNDS"); do
  [ "$A1" = 1 ] && a1_round "$r"
  quiet
  log "round $r: F1 $F1_ARGS"
  # shellcheck disable=SC2086
  run env -C "$HEAD_DIR" timeout 2400 node --import tsx bench/federation-f1.ts $F1_ARGS --quiet-machine-pct "$QUIET_PCT" --out "$OUT/f1-round$r.jsonl" >> "$OUT/f1.out" 2>&1 || log "  F1 round $r failed (see $OUT/f1.out)"
  grep '^{' "$OUT/f1-round$r.jsonl" 2>/dev/null | sed "s/}\$/,\"round\":$r}/" >> "$OUT/f1.jsonl"
  quiet
  log "round $r: F2 $F2_ARGS"
  # shellcheck disable=SC2086
  run env -C "$HEAD_DIR" timeout 3600 node --import tsx bench/federation-f2.ts $F2_ARGS --quiet-machine-pct "$QUIET_PCT" --out "$OUT/f2.jsonl" >> "$OUT/f2.out" 2>&1 || log "  F2 round $r failed (see $OUT/f2.out)"
  quiet
  log "round $r: F3 $F3_ARGS"
  # F3 prints one JSON line (its servers share this one process; see bench/federation-f3.ts).
  # shellcheck disable=SC2086
  run env -C "$HEAD_DIR" timeout 1200 node --import tsx bench/federation-f3.ts $F3_ARGS > "$OUT/f3-round$r.out" 2>> "$OUT/f3.err" || log "  F3 round $r failed (see $OUT/f3.err)"
  grep '^{' "$OUT/f3-round$r.out" | sed "s/}\$/,\"load_avg\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"round\":$r}/" >> "$OUT/f3.jsonl"
done

# Each A1 record with its round ("round": N), so that the summary pairs A1 now with that round's F1.
for which in base head; do
  : > "$OUT/a1-$which-raw.jsonl"
  for r in $(seq 1 "$ROUNDS"); do
    [ -f "$OUT/a1-$which-round$r/raw.jsonl" ] && grep '^{' "$OUT/a1-$which-round$r/raw.jsonl" | sed "s/}\$/,\"round\":$r}/" >> "$OUT/a1-$which-raw.jsonl"
  done
done
cat "$OUT"/a1-steady-round*/raw.jsonl > "$OUT/a1-steady-raw.jsonl" 2>/dev/null
(cd "$ROOT" && node --import tsx bench/federation-summary.ts --dir "$OUT" --md "$OUT/summary.md")
log "took $(( $(date +%s) - T0 )) s; summary: $OUT/summary.md"
cat "$OUT/summary.md"
