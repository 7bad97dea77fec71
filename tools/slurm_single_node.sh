#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, from Debian's packages: what tests/test_slurm.py
# submits the DAG to, and a way to try the README's "Run on a SLURM cluster" without a cluster.
#
#   tools/slurm_single_node.sh up      install (once), configure, start; wait until the node is idle
#   tools/slurm_single_node.sh down    cancel every job, stop the daemons; nothing left running
#   tools/slurm_single_node.sh status  the daemons and the node, as sinfo sees it
#
# Needs root and apt-get (Debian 12: slurm-wlm 22.05, munge). There is no systemd here (containers,
# CI), so the script starts munged, slurmctld and slurmd itself and keeps their pid files under
# /run. `up` is idempotent: a cluster that answers is left as it is; anything else (a daemon that
# died, stale pid files, a node marked down by a crash) is stopped and started again.
#
# Accounting: none (no slurmdbd, no MariaDB). The Snakemake SLURM executor plugin asks `sacct` for
# job states by default, which without slurmdbd only errors; its `squeue` status path
# (--slurm-status-command squeue) works instead, as long as slurmctld keeps a finished job in its
# memory until the plugin has seen it end: MinJobAge below (one hour; SLURM's default of 300 s
# would do for the plugin's 40 s checks too, but a busy CI machine can stall the submitting
# snakemake for minutes). The plugin itself only uses squeue when MinJobAge is at least three times
# its first status-check delay.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# Written by tools/slurm_single_node.sh (DeepLeak): a single-node test cluster."
RUN=/run/slurm
MUNGE_RUN=/run/munge
PARTITION=${SLURM_PARTITION:-debug}
WAIT_S=${SLURM_UP_TIMEOUT:-90}

say() { echo "slurm_single_node: $*" >&2; }
die() { say "$*"; exit 1; }

need_root() {
    [ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts daemons); run it with sudo"
    command -v apt-get >/dev/null || die "needs apt-get (Debian's slurmctld, slurmd, munge)"
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sinfo >/dev/null && command -v munged >/dev/null; then
        return
    fi
    say "installing slurmctld slurmd slurm-client munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
        || die "apt-get install slurmctld slurmd slurm-client munge failed"
}

write_conf() {
    if [ -e "$CONF" ] && ! grep -qxF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script (a real cluster's?); not touching it"
    fi
    # This node as slurmd sees it (CPUs, sockets, cores, RealMemory in MB): a node configured
    # with more than it has would be drained at once.
    local node
    node=$(slurmd -C | head -n 1) || die "slurmd -C could not read this machine's hardware"
    local name=${node#NodeName=}; name=${name%% *}
    mkdir -p "$(dirname "$CONF")"
    cat > "$CONF.tmp" <<EOF
$MARK
ClusterName=deepleak
# 127.0.0.1: works whether or not the host name resolves (containers).
SlurmctldHost=$name(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups: a container's are read-only or absent; processes are tracked by their parent ids.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Cores and memory are what jobs are scheduled by, so a --mem over RealMemory is refused at
# submission, as on a real cluster.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# See the header: the plugin's squeue status path needs finished jobs kept this long (seconds).
MinJobAge=3600
# A node that was down (this machine restarted, slurmd killed) returns by itself once it registers.
ReturnToService=2
SchedulerType=sched/backfill
MpiDefault=none
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$name Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

# The pid in a pid file, if that process is alive (not a zombie waiting to be reaped) and is the
# daemon named (a stale file can name a pid reused by something else).
live_pid() {
    local file=$1 comm=$2 pid
    [ -r "$file" ] || return 1
    pid=$(tr -dc 0-9 < "$file")
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] \
        && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ] && echo "$pid"
}

stop_daemon() {
    local file=$1 comm=$2 pid
    pid=$(live_pid "$file" "$comm") || { rm -f "$file"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do live_pid "$file" "$comm" >/dev/null || break; sleep 0.2; done
    if live_pid "$file" "$comm" >/dev/null; then
        say "$comm ($pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid" || true
    fi
    rm -f "$file"
}

node_state() {
    sinfo -h -N -p "$PARTITION" -o %t 2>/dev/null | head -n 1
}

healthy() {
    live_pid "$MUNGE_RUN/munged.pid" munged >/dev/null && live_pid "$RUN/slurmctld.pid" slurmctld \
        >/dev/null && live_pid "$RUN/slurmd.pid" slurmd >/dev/null \
        && case "$(node_state)" in idle|mix|alloc) true ;; *) false ;; esac
}

stop_all() {
    if live_pid "$RUN/slurmctld.pid" slurmctld >/dev/null; then
        # Every job of this test cluster: nothing may keep running after `down`.
        scancel --full --state=PENDING,RUNNING,SUSPENDED $(squeue -h -o %i 2>/dev/null) \
            2>/dev/null || true
        for _ in $(seq 60); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
    fi
    stop_daemon "$RUN/slurmd.pid" slurmd
    stop_daemon "$RUN/slurmctld.pid" slurmctld
    stop_daemon "$MUNGE_RUN/munged.pid" munged
}

up() {
    need_root
    install_packages
    write_conf
    if healthy; then say "already up: node $(sinfo -h -N -o '%N %t')"; return; fi
    stop_all
    mkdir -p "$RUN" "$MUNGE_RUN" /var/log/slurm /var/log/munge /var/lib/munge
    chown slurm:slurm "$RUN" /var/log/slurm /var/lib/slurm/slurmctld
    chown munge:munge "$MUNGE_RUN" /var/log/munge /var/lib/munge
    # Debian's munge package makes a key on install; make one if it is missing.
    [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key \
        && chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key; }
    runuser -u munge -- munged || die "munged did not start: see /var/log/munge/munged.log"
    munge -n | unmunge >/dev/null || die "munge does not work: see /var/log/munge/munged.log"
    # -c: start from empty state. `down` cancels every job, so the saved state holds nothing of
    # value, and a stale one (a node drained by a crash) could keep the node from coming up.
    slurmctld -c || die "slurmctld did not start: see /var/log/slurm/slurmctld.log"
    slurmd || die "slurmd did not start: see /var/log/slurm/slurmd.log"
    local state=""
    for _ in $(seq $((WAIT_S * 2))); do
        state=$(node_state)
        case "$state" in
            idle) say "up: node $(sinfo -h -N -o '%N %c CPUs %m MB') idle in partition $PARTITION"
                  return ;;
            down*|drain*|fail*) scontrol update NodeName="$(sinfo -h -N -o %N | head -n 1)" \
                  State=RESUME 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    die "the node is not idle after ${WAIT_S}s (state: '${state:-no answer}'); logs above"
}

down() {
    need_root
    stop_all
    local left
    left=$(ps -eo pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 ~ /^(slurmctld|slurmd|slurmstepd|munged)$/') \
        || true
    [ -z "$left" ] || die "still running after down (not started by this script?):"$'\n'"$left"
    # Our slurm.conf goes too (`up` writes it again). Snakemake's SLURM executor plugin runs
    # `scontrol show config` whenever Snakemake starts, and with a config naming a stopped
    # controller scontrol waits its 10 s message timeout: every later `snakemake` call, in the
    # tests after this one or a user's, would start 10 s late. Without a config it fails at once.
    if [ -e "$CONF" ] && grep -qxF "$MARK" "$CONF"; then rm -f "$CONF"; fi
    say "down: no slurmctld, slurmd, slurmstepd or munged running"
}

status() {
    for d in "$MUNGE_RUN/munged.pid munged" "$RUN/slurmctld.pid slurmctld" "$RUN/slurmd.pid slurmd"; do
        set -- $d
        if pid=$(live_pid "$1" "$2"); then echo "$2: running ($pid)"; else echo "$2: not running"; fi
    done
    sinfo -N 2>/dev/null || echo "sinfo: no answer"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
