#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, from Debian's slurm-wlm and munge, for CI and
# for trying profiles/slurm on one machine. Needs root (or passwordless sudo). Idempotent:
# packages are installed only when missing, daemons started only when not running.
#
#   scripts/slurm_localhost.sh start   # install, configure, start munged, slurmctld, slurmd
#   scripts/slurm_localhost.sh stop    # stop the daemons this script started, by their pid files
#
# Partition "local" holds the one node "localhost" with every core and most of the memory.
# No accounting database: profiles/slurm polls job states with squeue.
set -euo pipefail

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
RUN=/run/fipbench-slurm                  # pid files of the daemons started here
CONF=/etc/slurm/slurm.conf

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null; }
}

write_config() {
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  $SUDO mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm "$RUN"
  $SUDO tee "$CONF" >/dev/null <<EOF
# Written by fipbench scripts/slurm_localhost.sh
ClusterName=fipbench
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
ReturnToService=2
NodeName=localhost CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  install_packages
  write_config
  if ! alive "$RUN/munged.pid" && ! alive /run/munge/munged.pid; then   # another munged is used, not owned
    [ -f /etc/munge/munge.key ] || $SUDO mungekey --create
    $SUDO install -d -o munge -g munge /run/munge
    $SUDO runuser -u munge -- munged
    $SUDO cp /run/munge/munged.pid "$RUN/munged.pid"
  fi
  alive "$RUN/slurmctld.pid" || $SUDO slurmctld
  alive "$RUN/slurmd.pid" || $SUDO slurmd -N localhost   # the node is "localhost", whatever the hostname
  for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
      sinfo
      return
    fi
    sleep 1
  done
  echo "slurm_localhost: the node did not become idle; see /var/log/slurm/" >&2
  exit 1
}

stop() {
  for daemon in slurmd slurmctld munged; do
    if alive "$RUN/$daemon.pid"; then
      $SUDO kill "$(cat "$RUN/$daemon.pid")"
      echo "stopped $daemon"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
