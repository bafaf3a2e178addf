#!/usr/bin/env bash
# Start a real one-node SLURM cluster (slurmctld + slurmd + munge) on this machine.
#
# Purpose: test the repository's SLURM profile (slurm/) end to end, locally and in CI
# (tests/test_slurm.py, marker `slurm`). Debian 12 / Ubuntu, run as root, no systemd needed.
#
#   sudo scripts/local_slurm.sh          # install if needed, configure, start, wait for the node
#   sinfo; squeue                        # the cluster is up: one node, partition "debug"
#
# Idempotent: packages already installed are not reinstalled, an existing munge key is kept,
# running daemons are left alone (they are restarted only when slurm.conf had to change).
#
# Environment knobs (all optional):
#   LOCAL_SLURM_PARTITION  partition name                    (default: debug)
#   LOCAL_SLURM_TIMEOUT    seconds to wait for an idle node  (default: 60)
#   LOCAL_SLURM_MEM_MARGIN MB kept back from `free -m` total  (default: 512)
#
# What it deliberately does NOT set up: accounting (slurmdbd), cgroups, GPUs (GRES).
# Hence on this cluster `sacct` does not work and Snakemake's SLURM executor must use
# `--slurm-status-command squeue` (see tests/profiles/slurm-cpu/).
set -euo pipefail

PARTITION="${LOCAL_SLURM_PARTITION:-debug}"
TIMEOUT="${LOCAL_SLURM_TIMEOUT:-60}"
MEM_MARGIN="${LOCAL_SLURM_MEM_MARGIN:-512}"

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm
CTLD_PID="$RUN_DIR/slurmctld.pid"
SLURMD_PID="$RUN_DIR/slurmd.pid"
CTLD_LOG="$LOG_DIR/slurmctld.log"
SLURMD_LOG="$LOG_DIR/slurmd.log"
MUNGE_KEY=/etc/munge/munge.key

say() { printf '[local_slurm] %s\n' "$*"; }
die() { printf '[local_slurm] ERROR: %s\n' "$*" >&2; exit 1; }

SECONDS=0
[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, starts slurmd)"

# ---------------------------------------------------------------- 1. packages
need=()
for pkg in munge slurm-client slurmctld slurmd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    say "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() {
        apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}"
    }
    # Fresh CI images often have empty or stale package lists: update once if needed.
    if ! apt_install >/tmp/local_slurm_apt.log 2>&1; then
        say "apt-get install failed with the current package lists; running apt-get update"
        apt-get update -q >>/tmp/local_slurm_apt.log 2>&1 || { tail -20 /tmp/local_slurm_apt.log >&2; die "apt-get update failed"; }
        apt_install >>/tmp/local_slurm_apt.log 2>&1 || { tail -20 /tmp/local_slurm_apt.log >&2; die "apt-get install failed"; }
    fi
    say "installed: ${need[*]} (apt log: /tmp/local_slurm_apt.log)"
else
    say "packages already installed: munge slurm-client slurmctld slurmd"
fi
say "versions: $(slurmctld -V 2>/dev/null), munge $(dpkg-query -W -f='${Version}' munge)"

# Users the Debian packages normally create; create them if a minimal image lacks them.
for u in munge slurm; do
    getent passwd "$u" >/dev/null || { useradd --system --no-create-home --shell /usr/sbin/nologin "$u"; say "created system user $u"; }
done

# ---------------------------------------------------------------- 2. munge
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s "$MUNGE_KEY" ]; then
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$MUNGE_KEY" --force
    else
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
    fi
    say "created munge key $MUNGE_KEY"
else
    say "munge key exists: $MUNGE_KEY"
fi
chown munge:munge /etc/munge "$MUNGE_KEY" /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0400 "$MUNGE_KEY"
chmod 0755 /run/munge

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if munge_ok; then
    say "munged already running"
else
    # Not as root: munged runs as its own user (as the Debian service does).
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 1 50); do munge_ok && break; sleep 0.1; done
    munge_ok || { tail -20 /var/log/munge/munged.log >&2 2>/dev/null || true; die "munged did not start"; }
    say "started munged"
fi

# ---------------------------------------------------------------- 3. slurm.conf
HOST="$(hostname -s)"
[ -n "$HOST" ] || die "hostname -s is empty"
# Real topology as slurmd sees it (declaring more than the hardware has drains the node).
NODE_HW="$(slurmd -C 2>/dev/null | head -1)"
hw() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$NODE_HW"; }
CPUS="$(hw CPUs)"; [ -n "$CPUS" ] || CPUS="$(nproc)"
BOARDS="$(hw Boards)"; SOCKETS="$(hw SocketsPerBoard)"; CORES="$(hw CoresPerSocket)"; THREADS="$(hw ThreadsPerCore)"
TOTAL_MB="$(free -m | awk '/^Mem:/ {print $2}')"
REAL_MB=$(( TOTAL_MB - MEM_MARGIN ))
[ "$REAL_MB" -gt 256 ] || REAL_MB=$(( TOTAL_MB * 9 / 10 ))
TOPO=""
if [ -n "$BOARDS" ] && [ -n "$SOCKETS" ] && [ -n "$CORES" ] && [ -n "$THREADS" ]; then
    TOPO=" Boards=$BOARDS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS"
fi

mkdir -p "$CONF_DIR" "$LOG_DIR" "$RUN_DIR" /var/spool/slurmctld /var/spool/slurmd
chown slurm:slurm "$LOG_DIR" "$RUN_DIR" /var/spool/slurmctld
chmod 0755 "$LOG_DIR" "$RUN_DIR"

NEW_CONF="$(mktemp)"
trap 'rm -f "$NEW_CONF"' EXIT
cat >"$NEW_CONF" <<EOF
# Written by scripts/local_slurm.sh: a one-node test cluster. Do not use in production.
ClusterName=localcluster
# NodeAddr/SlurmctldHost addresses are explicit so the cluster works even when the
# hostname does not resolve.
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: processes are tracked through /proc, no CPU binding/confinement.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# Several 1-CPU jobs run side by side: schedule cores and memory, not whole nodes.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No accounting database: sacct does not work, use squeue for job status.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# squeue keeps finished jobs for MinJobAge seconds; Snakemake's squeue status checks
# need this to be longer than its (at most 180 s) status-check interval.
MinJobAge=300
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
KillWait=30
Waittime=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS$TOPO RealMemory=$REAL_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

CONF_CHANGED=0
if [ -f "$CONF" ] && cmp -s "$NEW_CONF" "$CONF"; then
    say "$CONF unchanged"
else
    [ -f "$CONF" ] && cp "$CONF" "$CONF.bak.$(date +%s)" && say "backed up previous $CONF"
    install -m 0644 "$NEW_CONF" "$CONF"
    CONF_CHANGED=1
    say "wrote $CONF (node $HOST: CPUs=$CPUS${TOPO:+,$TOPO} RealMemory=${REAL_MB}MB of ${TOTAL_MB}MB; partition $PARTITION)"
fi

# ---------------------------------------------------------------- 4. daemons
# A daemon counts as running when its pid file names a live process with the right name.
running() { # $1 = pidfile, $2 = process name
    local pid
    [ -s "$1" ] || return 1
    pid="$(cat "$1")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
stop() { # $1 = pidfile, $2 = name
    local pid
    running "$1" "$2" || return 0
    pid="$(cat "$1")"
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    say "stopped $2 (pid $pid) to apply the new configuration"
}
if [ "$CONF_CHANGED" -eq 1 ]; then
    stop "$SLURMD_PID" slurmd
    stop "$CTLD_PID" slurmctld
fi

if running "$CTLD_PID" slurmctld; then
    say "slurmctld already running (pid $(cat "$CTLD_PID"))"
else
    slurmctld   # daemonises; drops to SlurmUser itself
    say "started slurmctld"
fi
if running "$SLURMD_PID" slurmd; then
    say "slurmd already running (pid $(cat "$SLURMD_PID"))"
else
    slurmd      # daemonises; must be root
    say "started slurmd"
fi

# ---------------------------------------------------------------- 5. wait for the node
dump_logs() {
    for f in "$CTLD_LOG" "$SLURMD_LOG"; do
        printf '\n==> %s <==\n' "$f" >&2
        tail -25 "$f" >&2 2>/dev/null || echo "(missing)" >&2
    done
}
state=""
deadline=$(( SECONDS + TIMEOUT ))
resumed=0
while [ "$SECONDS" -lt "$deadline" ]; do
    state="$(sinfo -h -N -n "$HOST" -o '%t' 2>/dev/null | head -1 || true)"
    case "$state" in
        idle|mix|alloc|comp) break ;;
        drain*|down*|drng*)
            # e.g. left over from an earlier run; ReturnToService=2 usually handles it.
            if [ "$resumed" -eq 0 ]; then
                scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
                say "node was '$state', asked slurmctld to resume it"
                resumed=1
            fi ;;
    esac
    sleep 0.5
done
case "$state" in
    idle|mix|alloc|comp) ;;
    *)
        say "node $HOST not ready after ${TIMEOUT}s (state: '${state:-no answer from slurmctld}')" >&2
        sinfo -N -l >&2 2>/dev/null || true
        scontrol show node "$HOST" 2>/dev/null | grep -i reason >&2 || true
        dump_logs
        die "SLURM cluster did not come up" ;;
esac

sinfo
say "SLURM cluster ready: node $HOST is $state (took ${SECONDS}s)"
