#!/usr/bin/env bash
# A one-node SLURM cluster for the grid launcher's tests, from Debian's slurmctld, slurmd and munge.
#   bash tests/slurm_cluster.sh start DIR   prints the SLURM_CONF to export; its state, logs and pid files stay in DIR
#   bash tests/slurm_cluster.sh stop DIR    ends the daemons it started, by the pid files in DIR
# The configuration lives in DIR (SLURM_CONF), on ports free at start, so it touches no /etc/slurm and
# runs beside another cluster. munged is started when none runs (its key made when absent). Root only.
set -euo pipefail
action="${1:-}" dir="${2:-}"
[ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop_pid_files() {  # PID_FILE... -> each process ended (TERM, all at once), waited for, its file removed
  local file pids=()
  for file in "$@"; do
    if [ -f "$file" ]; then
      pids+=("$(cat "$file")")
      rm -f "$file"
    fi
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  kill "${pids[@]}" 2> /dev/null || true
  local pid
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.1
    done
  done
}

case "$action" in
  stop)
    stop_pid_files "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"   # munged.pid: only when this script started it
    exit 0
    ;;
  start) ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

mkdir -p "$dir"/{state,spool,log} /etc/munge /run/munge /var/log/munge /var/lib/munge
if ! { [ -f /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2> /dev/null; }; then
  [ -f /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --force
  cp /run/munge/munged.pid "$dir/munged.pid"
fi
read -r ctld_port slurmd_port < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])')
host=$(hostname -s)
memory=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 2000 ))
cat > "$dir/slurm.conf" <<CONF
ClusterName=test
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerParameters=sched_interval=1
MinJobAge=600
NodeName=$host CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  if sinfo -h -o %T 2> /dev/null | grep -qx idle; then echo "$SLURM_CONF"; exit 0; fi
  sleep 0.2
done
echo "error: the SLURM node did not become idle; see $dir/log/" >&2
exit 1
