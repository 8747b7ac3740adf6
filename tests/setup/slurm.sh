#!/usr/bin/env bash
# A real one-node Slurm for the tests, run as the test's own processes in DIR (no systemd, nothing
# outside DIR): munged with a fresh key, slurmctld and slurmd with a slurm.conf written here from
# this machine's real CPUs and memory, and one fake GPU gres (type h100) declared with File= on a
# dummy character device, so that --gres=gpu:h100:1 is schedulable and an unsatisfiable gres is
# not. Ports are picked free at start, so several builds can each run one.
#   usage: tests/setup/slurm.sh start DIR    (prints `export SLURM_CONF=DIR/slurm.conf`)
#          tests/setup/slurm.sh stop DIR
#          tests/setup/slurm.sh status DIR
# Needs root (slurmd runs jobs as their owner) and Debian's slurmd, slurmctld, slurm-client and
# munge (tools/install-deps.sh installs them).
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { sed -n '7,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
node=seernode

stop() {
  local f pid
  for f in slurmd slurmctld munged; do
    [[ -f $dir/$f.pid ]] || continue
    pid=$(cat "$dir/$f.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  done
  for _ in $(seq 50); do
    local alive=0
    for f in slurmd slurmctld munged; do
      pid=$(cat "$dir/$f.pid" 2>/dev/null || true)
      [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for f in slurmd slurmctld munged; do
    pid=$(cat "$dir/$f.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/$f.pid"
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case $cmd in
stop) stop; exit 0 ;;
status) SLURM_CONF=$dir/slurm.conf sinfo -h -o '%P %a %D %t %G'; exit $? ;;
start) ;;
*) echo "slurm.sh: unknown command '$cmd' (valid: start, stop, status)" >&2; exit 2 ;;
esac

[[ $(id -u) == 0 ]] || { echo "slurm.sh: needs root (slurmd must run jobs as their owner)" >&2; exit 1; }
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || { echo "slurm.sh: '$b' not found: run tools/install-deps.sh" >&2; exit 1; }
done
mkdir -p "$dir"
stop
rm -rf "${dir:?}"/{state,spool,log,jobs}
mkdir -p "$dir"/{state,spool,log,jobs}
chmod 700 "$dir"

head -c 1024 /dev/urandom >"$dir/munge.key"
chmod 600 "$dir/munge.key"
munged --socket="$dir/munge.sock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge.seed" --force

[[ -e $dir/fakegpu0 ]] || mknod "$dir/fakegpu0" c 1 3 # a character device like /dev/null
cpus=$(nproc)
mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10))
ctld_port=$(free_port)
slurmd_port=$(free_port)
cat >"$dir/slurm.conf" <<EOF
# Written by tests/setup/slurm.sh: a one-node cluster for the tests.
ClusterName=seertest
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
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
MpiDefault=none
SelectType=select/cons_tres
# Cores, not memory, are consumed, and each may be shared by 32 jobs: the tests run 20 small
# sandboxes at once on a 2-core node; each sandbox still has its own memory limit.
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
# Small grace after a time limit, so the tests of it end quickly.
KillWait=2
OverTimeLimit=0
MinJobAge=600
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$(hostname) CPUs=$cpus RealMemory=$mem_mb Gres=gpu:h100:1 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:32
EOF
echo "NodeName=$node Name=gpu Type=h100 File=$dir/fakegpu0" >"$dir/gres.conf"

export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$node"
for _ in $(seq 300); do
  state=$(sinfo -h -n "$node" -o '%t' 2>/dev/null || true)
  [[ $state == idle* ]] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.2
done
echo "slurm.sh: the node did not become idle within 60 s (state '${state:-none}'); logs in $dir/log" >&2
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
stop
exit 1
