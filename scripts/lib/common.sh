# Shared by the benchmark and probe scripts under scripts/: `source "scripts/lib/common.sh"` from
# the repository root. Servers a script starts go in `pids`, scratch directories in `scratch`;
# both are stopped and removed when the script ends, however it ends (the minted tokens of one
# benchmark run are half a gigabyte, and leftovers once filled the disk CI shares).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
# jsonget "['key'][0]" < file: one value out of a JSON document on stdin.
jsonget() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

pids=()
scratch=()
# new_scratch VAR: a fresh scratch directory in $VAR (not `$(...)`: the list must grow in this
# shell, not in a subshell).
new_scratch() {
  local made
  made=$(mktemp -d)
  scratch+=("$made")
  printf -v "$1" '%s' "$made"
}
# Kills and waits for the servers first: a gateway still writing would race the removal. A
# script with more to stop defines `before_removal`, run once its servers are gone.
stop_and_clean() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if declare -F before_removal >/dev/null; then before_removal; fi
  if [ ${#scratch[@]} -gt 0 ]; then rm -rf "${scratch[@]}"; fi
}
trap stop_and_clean EXIT
