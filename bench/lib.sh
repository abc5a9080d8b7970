# Shared by the bench scripts: measure NAME PAGES COMMAND… runs COMMAND in
# its own session and prints its wall time, pages per second and the peak
# RSS of its whole process tree (sampled every 50 ms).
measure() {
  local name=$1 pages=$2; shift 2
  local start end peak=0
  start=$(date +%s.%N)
  setsid "$@" >/dev/null 2>&1 &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    local rss
    rss=$(ps -o rss= -s $pid 2>/dev/null | awk '{s+=$1} END {print s+0}')
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.05
  done
  wait $pid || true
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<34} pages={sys.argv[4]} seconds={s:6.2f} pages_per_second={int(sys.argv[4])/s:5.2f} peak_tree_rss_mib={int(sys.argv[5])/1024:6.0f}')" "$start" "$end" "$name" "$pages" "$peak"
}
