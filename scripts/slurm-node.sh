#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this Debian/Ubuntu machine (munge,
# slurmctld and slurmd, PMIx as the MPI plugin), so that the multi-rank
# tests can run under `srun` as well as `mpirun`:
#   bash scripts/slurm-node.sh
#   FNO_TEST_LAUNCHER=srun cargo test --test integration -- mpi::
# Needs root (it installs slurm-wlm and munge and starts daemons). It
# writes /etc/slurm/slurm.conf only when there is none, and refuses to
# touch a machine that already runs a Slurm it did not configure. Not part
# of CI: a test machine's Slurm is the machine's business.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq slurm-wlm munge >/dev/null
fi

conf=/etc/slurm/slurm.conf
marker="# written by fno's scripts/slurm-node.sh"
host=$(hostname -s)
cpus=$(nproc)
if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
  echo "slurm-node: $conf exists and was not written by this script; leaving this machine's Slurm alone" >&2
  exit 1
fi
as_root mkdir -p /etc/slurm /var/spool/slurmd /var/spool/slurmctld /run/munge
as_root tee "$conf" >/dev/null <<EOF
$marker
ClusterName=fno-test
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF

if [ ! -s /etc/munge/munge.key ]; then
  as_root mungekey --create >/dev/null 2>&1 || as_root /usr/sbin/create-munge-key -f >/dev/null
fi
pgrep -x munged >/dev/null || as_root munged --force
pgrep -x slurmctld >/dev/null || as_root slurmctld
pgrep -x slurmd >/dev/null || as_root slurmd
# slurmd registers its node within a few seconds to a minute.
for _ in $(seq 1 60); do
  if timeout 10 srun --ntasks 2 --overcommit --immediate=5 true >/dev/null 2>&1; then
    echo "slurm-node: one-node Slurm up on $host ($cpus CPUs); srun works"
    exit 0
  fi
  sleep 2
done
echo "slurm-node: Slurm did not come up; see 'sinfo' and the daemons' logs under /var/log/slurm" >&2
exit 1
