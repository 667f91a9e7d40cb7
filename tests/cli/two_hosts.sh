#!/usr/bin/env bash
# A sweep across two "hosts" made on this machine: two network namespaces
# joined by a veth pair (10.200.0.1/24 and 10.200.0.2/24, addresses that
# exist only inside the namespaces this script creates), each "host" also
# in its own UTS namespace (its own hostname), IPC namespace and mount
# namespace. MPICH's hydra runs in host A and reaches host B through
# -launcher-exec: a small script standing in for ssh that runs hydra's
# proxy with `ip netns exec` in host B. Rank 0 (the coordinator, the only
# one with a database) and rank 1 run on A, rank 2 on B.
#
# No files are shared between the hosts: both see their own private
# directory at the same path ($T/work, like an install prefix on every
# node of a cluster), and the other host's directory is hidden by a tmpfs.
# Host B has the binary and nothing else: no grid file, no database. The
# data set is synthetic (generated in memory), so not even data is shared.
#
# Cases (one PASS/FAIL line each; tests/run.sh counts them):
#   two_hosts_all_done        every phase of the grid is done in A's database
#   two_hosts_rank_on_b       rank 2 ran in B's namespaces, and the MPI
#                             traffic (jobs, checkpoints) crossed the veth
#   two_hosts_no_shared_files B never saw the grid or the database
#   two_hosts_clean_exit      mpiexec ends once the sweep has finished: exit 0,
#                             or the status hydra reports after a rank's
#                             finalize watchdog (QSWEEP_FINALIZE_TIMEOUT) ended
#                             a UCX-over-TCP MPI_Finalize hang (255, or 141
#                             when hydra dies of SIGPIPE and the watchdog's
#                             line is on stderr); not hung
#   two_hosts_node_death      host B killed mid-sweep: MPICH ends the job;
#                             the same command again finishes the sweep and
#                             keeps the phases that were done
# Needs root, iproute2 (ip netns), util-linux (unshare, mount), MPICH's
# mpiexec.hydra and sqlite3. Where namespaces cannot be made (not root, a
# container without CAP_SYS_ADMIN...), it prints
# "PASS two_hosts_skipped (reason)" and nothing else. docs/cluster.md says
# what this test shows and what it does not.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
Q=${QSWEEP_BIN:-$ROOT/bin/qsweep}
MPIEXEC=/usr/bin/mpiexec.hydra

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() {
    echo "PASS two_hosts_skipped ($1)"
    exit 0
}

if [ ! -x "$Q" ]; then
    echo "FAIL two_hosts: $Q is missing (run make)"
    exit 1
fi
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
for c in ip unshare mount umount sqlite3 timeout; do
    command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
done
[ -x "$MPIEXEC" ] || skip "$MPIEXEC (MPICH's hydra) is not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/qsweep-2h.XXXXXX") || exit 1
# Names unique to this run: other sessions may run the same test.
NA=qs2h_a_$$
NB=qs2h_b_$$
VA=q2ha$$ # interface names: at most 15 characters
VB=q2hb$$
# Where the sweep command bounds MPI_Finalize (a rank stuck there after the
# sweep ended, see docs/cluster.md "Known problem"), a short bound here;
# harmless where it does not.
export QSWEEP_FINALIZE_TIMEOUT=5
IPA=10.200.0.1
IPB=10.200.0.2
JOB_PIDS=""

# Ends what this script started (by pid), deletes its namespaces (which
# deletes the veth pair) and its files. Mounts live in the namespaces of
# the processes that made them and vanish with them.
cleanup() {
    local p ns
    for p in $JOB_PIDS; do kill -9 "$p" 2>/dev/null; done
    for ns in "$NA" "$NB"; do
        if [ -e "/run/netns/$ns" ]; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        fi
    done
    sleep 0.2
    for ns in "$NA" "$NB"; do
        [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
    done
    ip link del "$VA" 2>/dev/null # only if the pair never moved into a namespace
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ the two hosts

setup_err=$T/setup.err
ip netns add "$NA" 2>"$setup_err" || skip "ip netns add failed: $(head -c 200 "$setup_err")"
ip netns add "$NB" 2>"$setup_err" || skip "ip netns add failed: $(head -c 200 "$setup_err")"
{
    ip link add "$VA" type veth peer name "$VB" &&
        ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
        ip -n "$NA" addr add "$IPA/24" dev "$VA" && ip -n "$NB" addr add "$IPB/24" dev "$VB" &&
        ip -n "$NA" link set lo up && ip -n "$NB" link set lo up &&
        ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up
} 2>"$setup_err" || skip "cannot make the veth pair: $(head -c 200 "$setup_err")"
mkdir -p "$T/work" "$T/probe" "$T/host"
ip netns exec "$NB" unshare --uts --ipc --mount sh -c \
    "hostname qs-probe && mount -t tmpfs -o size=1m none '$T/probe'" 2>"$setup_err" ||
    skip "cannot make UTS/IPC/mount namespaces: $(head -c 200 "$setup_err")"

# Each host's private directory: the binary (behind a wrapper that notes
# which rank ran where and what it could see) and, on A only, the grid and
# the launcher. Both are mounted at $T/work inside their host.
for h in A B; do
    d=$T/node$h
    mkdir -p "$d/tmp"
    cp "$Q" "$d/qsweep.bin" || { echo "FAIL two_hosts: cannot copy $Q"; exit 1; }
    cat >"$d/qsweep" <<'W'
#!/bin/sh
# This host's qsweep: one line per rank (rank, hostname, network namespace,
# the files this host has), then the real binary.
d=$(dirname "$0")
echo "rank=${PMI_RANK:-?} host=$(hostname) netns=$(ip netns identify $$ 2>/dev/null) files=$(ls "$d" | tr '\n' ',')" >>"$d/ranks.log"
exec "$d/qsweep.bin" "$@"
W
    chmod +x "$d/qsweep"
done

# Synthetic FCDNN 16-3, float and W2A2, 3 seeds: 6 phases of a few seconds
# each (long enough to kill a host while one runs).
cat >"$T/nodeA/grid.json" <<'G'
{
  "name": "two-hosts",
  "dataset": {"name": "synthetic", "train_limit": 0, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": 16, "depth": 3,
           "wbits": [32, 2], "abits": [32, 2], "seed": [1, 2, 3]},
  "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
  "float": {"epochs": 100}, "retrain": {"epochs": 40}
}
G
NPHASES=$("$Q" expand "$T/nodeA/grid.json" | tail -n 1 | sed -nE 's/.*"phases":([0-9]+).*/\1/p')

# Hydra's "ssh" into host B: called as `launch.sh [-x] HOST COMMAND...`
# where COMMAND is one shell command line (hydra quotes it for a remote
# shell). Runs it in B's namespaces with B's directory at $T/work. It is
# started from A's mount namespace, so it first undoes A's view.
cat >"$T/nodeA/launch.sh" <<L
#!/bin/sh
while [ \$# -gt 0 ]; do case \$1 in -*) shift ;; *) break ;; esac; done
host=\$1; shift
[ "\$host" = "$IPB" ] || { echo "launch.sh: unknown host \$host" >&2; exit 255; }
exec ip netns exec "$NB" unshare --uts --ipc --mount sh -c '
  hostname qs-node-b
  umount -l "$T/work" "$T/nodeB" "$T/host" /dev/shm 2>/dev/null
  mount --bind "$T/nodeB" "$T/work" && mount -t tmpfs -o size=1m none "$T/nodeA" &&
  mount -t tmpfs -o size=1m none "$T/host" && mount -t tmpfs -o size=64m none /dev/shm || exit 255
  export TMPDIR="$T/work/tmp"
  eval "exec \$*"' sh "\$@"
L
chmod +x "$T/nodeA/launch.sh"

# start_sweep TAG DB: the sweep, from host A, in the background: the same
# command line an operator types on a cluster's first node, plus the
# launcher. Output in $T/host/TAG.out and .err, mpiexec's exit status in
# $T/host/TAG.rc; SWEEP_PID is the subshell that waits for it.
SWEEP_PID=""
start_sweep() {
    local tag=$1 db=$2
    (
        timeout -k 5 240 ip netns exec "$NA" unshare --uts --ipc --mount sh -c '
          hostname qs-node-a
          mount --bind "$1/nodeA" "$1/work" && mount -t tmpfs -o size=1m none "$1/nodeB" &&
          mount -t tmpfs -o size=1m none "$1/host" && mount -t tmpfs -o size=64m none /dev/shm || exit 255
          cd "$1/work" && export TMPDIR="$1/work/tmp"
          exec "$2" -launcher ssh -launcher-exec "$1/work/launch.sh" \
              -hosts "$3:2,$4:1" -n 3 ./qsweep grid.json --db "$5" --ckpt-interval 0' \
            sh "$T" "$MPIEXEC" "$IPA" "$IPB" "$db" >"$T/host/$tag.out" 2>"$T/host/$tag.err"
        echo $? >"$T/host/$tag.rc"
    ) 2>/dev/null & # (not bash's "Killed" notice when a hang is ended)
    SWEEP_PID=$!
    JOB_PIDS="$JOB_PIDS $SWEEP_PID"
}

q() { sqlite3 "$T/nodeA/$1" "$2" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }
ns_pids() { ip netns pids "$1" 2>/dev/null | tr '\n' ' '; }
kill_ns() { local p; for p in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; }

# wait_sweep DB TAG: waits until mpiexec exits, or until every phase is
# done and the coordinator said "finished" (then at most 20 s more for the
# exit). Sets EXIT_RC (mpiexec's status, "hung" or "timeout") and WALL.
EXIT_RC=""
WALL=0
wait_sweep() {
    local db=$1 tag=$2 t0=$SECONDS finished_at=""
    EXIT_RC=""
    while alive "$SWEEP_PID"; do
        if [ -z "$finished_at" ] && grep -q "finished after" "$T/host/$tag.err" 2>/dev/null &&
            [ "$(q "$db" "SELECT COUNT(*) FROM phases WHERE status = 'done'")" = "$NPHASES" ]; then
            finished_at=$SECONDS
        fi
        if [ -n "$finished_at" ] && [ $((SECONDS - finished_at)) -ge 20 ]; then
            EXIT_RC=hung
            break
        fi
        if [ $((SECONDS - t0)) -ge 200 ]; then
            EXIT_RC=timeout
            break
        fi
        sleep 0.2
    done
    WALL=$((SECONDS - t0))
    # Whatever is left (a hang): end it, by pid; the subshell then returns.
    kill_ns "$NA"
    kill_ns "$NB"
    wait "$SWEEP_PID" 2>/dev/null
    [ -n "$EXIT_RC" ] || EXIT_RC=$(cat "$T/host/$tag.rc" 2>/dev/null || echo unknown)
}

lastline() { grep -v '^$' "$1" 2>/dev/null | tail -n 1 | cut -c1-240; }

# ------------------------------------------------------------ a full sweep

start_sweep full results.db
wait_sweep results.db full

test_all_done() {
    local ndone total
    ndone=$(q results.db "SELECT COUNT(*) FROM runs WHERE sweep = 'two-hosts' AND status = 'done'")
    total=$(q results.db "SELECT COUNT(*) FROM runs WHERE sweep = 'two-hosts'")
    if [ -n "$NPHASES" ] && [ "$NPHASES" -gt 0 ] && [ "$ndone" = "$NPHASES" ] && [ "$total" = "$NPHASES" ]; then
        pass "two_hosts_all_done ($ndone/$NPHASES phases, ${WALL} s)"
    else
        fail two_hosts_all_done "$ndone of $total done, $NPHASES expected (mpiexec: $EXIT_RC; $(lastline "$T/host/full.err"))"
    fi
}

test_rank_on_b() {
    local la lb tx hosts
    la=$(cat "$T/nodeA/ranks.log" 2>/dev/null)
    lb=$(cat "$T/nodeB/ranks.log" 2>/dev/null)
    if ! grep -q "^rank=2 host=qs-node-b netns=$NB " <<<"$lb"; then
        fail two_hosts_rank_on_b "no rank 2 in host B's namespaces; B's log: ${lb:-empty}"; return
    fi
    if [ "$(grep -c "host=qs-node-a netns=$NA " <<<"$la")" -ne 2 ] ||
        ! grep -q "^rank=0 " <<<"$la" || ! grep -q "^rank=1 " <<<"$la"; then
        fail two_hosts_rank_on_b "ranks 0 and 1 are not both in host A; A's log: ${la:-empty}"; return
    fi
    # Bytes host B sent over the veth: READY/EPOCH/CKPT/DONE messages of
    # the phases it trained (a checkpoint every epoch with --ckpt-interval 0).
    tx=$(ip netns exec "$NB" cat "/sys/class/net/$VB/statistics/tx_bytes" 2>/dev/null)
    if [ "${tx:-0}" -lt 100000 ]; then
        fail two_hosts_rank_on_b "host B sent only ${tx:-0} bytes over the veth"; return
    fi
    # phases.worker_host, where the coordinator records it: B must be there.
    hosts=$(q results.db "SELECT group_concat(DISTINCT worker_host) FROM phases WHERE worker_host <> ''")
    if [ -n "$hosts" ] && ! grep -q "qs-node-b" <<<"$hosts"; then
        fail two_hosts_rank_on_b "phases.worker_host has $hosts, not qs-node-b"; return
    fi
    pass "two_hosts_rank_on_b (rank 2 on qs-node-b in $NB, $tx bytes sent over the veth; worker_host: ${hosts:-not recorded})"
}

test_no_shared_files() {
    local lb left f
    lb=$(grep "^rank=2 " "$T/nodeB/ranks.log" 2>/dev/null)
    if grep -Eq "grid\.json|results\.db" <<<"$lb"; then
        fail two_hosts_no_shared_files "host B could see A's files: $lb"; return
    fi
    left=""
    for f in "$T/nodeB"/* "$T/nodeB"/.[!.]*; do
        [ -e "$f" ] || continue
        case ${f##*/} in qsweep | qsweep.bin | ranks.log | tmp) ;; *) left="$left ${f##*/}" ;; esac
    done
    if [ -n "$left" ]; then
        fail two_hosts_no_shared_files "host B's directory has $left"; return
    fi
    if [ ! -s "$T/nodeA/results.db" ]; then
        fail two_hosts_no_shared_files "no database on host A"; return
    fi
    pass "two_hosts_no_shared_files (B saw: $(sed -E 's/.*files=//; s/,$//' <<<"$lb"))"
}

test_clean_exit() {
    case $EXIT_RC in
        0) pass "two_hosts_clean_exit (mpiexec exit 0)" ;;
        hung) fail two_hosts_clean_exit "every phase done and the coordinator finished, but mpiexec had not exited 20 s later (ranks in MPI_Finalize: MPICH 4.0 + UCX over TCP, see docs/cluster.md)" ;;
        # Every phase was checked done above; a rank that left a hung
        # MPI_Finalize through the watchdog makes hydra report 255.
        255) pass "two_hosts_clean_exit (mpiexec ended, exit 255 after the finalize watchdog; docs/cluster.md)" ;;
        # Seen once in ~30 runs: the watchdog fired (its line is on
        # stderr) and hydra itself died of SIGPIPE writing to the proxy of
        # the rank that left. Only with that line is 141 this case.
        # Seen once under a loaded machine: the watchdog fired and hydra
        # reported 9, the SIGKILL it sends the other ranks at teardown.
        # Both count only with the watchdog's line on stderr.
        141|9) if grep -q 'MPI_Finalize did not return within QSWEEP_FINALIZE_TIMEOUT' "$T/host/full.err"; then
                 pass "two_hosts_clean_exit (mpiexec ended, exit $EXIT_RC after the finalize watchdog; docs/cluster.md)"
             else
                 fail two_hosts_clean_exit "mpiexec: $EXIT_RC without the finalize watchdog; $(lastline "$T/host/full.err")"
             fi ;;
        *) fail two_hosts_clean_exit "mpiexec: $EXIT_RC; $(lastline "$T/host/full.err")" ;;
    esac
}

# ------------------------------------------------------------ a host dies

test_node_death() {
    local _ ok="" t0 rc1 death_s done_before attempts_before attempts_after n resumed
    start_sweep kill kill.db
    # Host B dies once a phase is done and a running one has a checkpoint.
    for _ in $(seq 1 600); do
        ok=$(q kill.db "SELECT (SELECT COUNT(*) FROM phases WHERE status = 'done') >= 1
                AND EXISTS (SELECT 1 FROM checkpoints c JOIN phases p ON p.id = c.phase_id
                            WHERE p.status = 'running' AND c.final = 0)")
        [ "$ok" = 1 ] && break
        alive "$SWEEP_PID" || break
        sleep 0.2
    done
    if [ "$ok" != 1 ]; then
        wait_sweep kill.db kill
        fail two_hosts_node_death "never reached a mid-sweep state (mpiexec: $EXIT_RC; $(lastline "$T/host/kill.err"))"; return
    fi
    kill_ns "$NB" # every process of host B: hydra's proxy and rank 2
    t0=$SECONDS
    while alive "$SWEEP_PID" && [ $((SECONDS - t0)) -lt 30 ]; do sleep 0.2; done
    if alive "$SWEEP_PID"; then
        local left
        left=$(ns_pids "$NA")
        kill_ns "$NA"; wait "$SWEEP_PID" 2>/dev/null
        fail two_hosts_node_death "the job went on 30 s after host B died (processes on A: $left)"; return
    fi
    wait "$SWEEP_PID" 2>/dev/null
    rc1=$(cat "$T/host/kill.rc" 2>/dev/null)
    death_s=$((SECONDS - t0))
    sleep 0.5
    if [ -n "$(ns_pids "$NA")" ]; then
        kill_ns "$NA"
        fail two_hosts_node_death "processes left on host A after mpiexec ended"; return
    fi
    done_before=$(q kill.db "SELECT group_concat(id) FROM (SELECT id FROM phases WHERE status = 'done' ORDER BY id)")
    attempts_before=$(q kill.db "SELECT SUM(attempts) FROM phases WHERE status = 'done'")
    resumed=$(q kill.db "SELECT COUNT(*) FROM phases p JOIN checkpoints c ON c.phase_id = p.id
                         WHERE p.status <> 'done' AND c.final = 0")
    # The same command again: resumes.
    start_sweep kill2 kill.db
    wait_sweep kill.db kill2
    n=$(q kill.db "SELECT COUNT(*) FROM runs WHERE status = 'done'")
    attempts_after=$(q kill.db "SELECT SUM(attempts) FROM phases WHERE instr(',' || '$done_before' || ',', ',' || id || ',') > 0")
    if [ "$n" != "$NPHASES" ]; then
        fail two_hosts_node_death "after the rerun $n of $NPHASES done (rerun: $EXIT_RC; $(lastline "$T/host/kill2.err"))"; return
    fi
    if [ "$attempts_before" != "$attempts_after" ]; then
        fail two_hosts_node_death "phases done before the death ran again (attempts $attempts_before -> $attempts_after)"; return
    fi
    pass "two_hosts_node_death (mpiexec ended with status $rc1 within $death_s s of B's death; rerun finished all $NPHASES, $resumed from a checkpoint; rerun exit: $EXIT_RC)"
}

test_all_done
test_rank_on_b
test_no_shared_files
test_clean_exit
test_node_death
