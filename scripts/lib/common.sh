# shellcheck shell=bash
# Shared settings and helpers for scripts/swift-up, swift-down and seed.
# Source it from a script that runs with `set -euo pipefail`.

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(dirname "$SCRIPTS_DIR")
# Absolute, because the Swift servers change their directory to /.
STATE=$(realpath -m "${SWIFTMOUNT_STATE:-$REPO_DIR/.state}")
PID_FILE=$STATE/pids

# Debian installs its modules (swift, keystone, PIL) for the system
# interpreter, and a `python3` earlier on PATH (pyenv, venv) may lack them.
# shellcheck disable=SC2034 # used by the scripts that source this file
PYTHON=/usr/bin/python3

log() {
    echo "$(basename "$0"): $*"
}

die() {
    echo "$(basename "$0"): error: $*" >&2
    exit 1
}

# Print the start time of a process (field 22 of /proc/PID/stat, in clock
# ticks since boot), or nothing when it does not exist. Together with the PID
# it identifies a process even after its PID is reused.
process_start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    # The command name (field 2) may contain spaces, so split after its ')'.
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo "${20}"
}

boot_id() {
    cat /proc/sys/kernel/random/boot_id
}

# Append "name pid start-time boot-id" to the pid file.
record_pid() {
    local name=$1 pid=$2
    echo "$name $pid $(process_start_time "$pid") $(boot_id)" >>"$PID_FILE"
}
