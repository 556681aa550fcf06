#!/usr/bin/env bash
# podman_run.sh ROUNDS RUNTIME...
#
# Time `podman run --rm localhost/bb true` with each OCI runtime, ROUNDS interleaved rounds after one
# warm-up each; print one line per runtime: "RUNTIME ms ms ms ...". Root only, offline, isolated as the
# engine tests isolate their daemons (scripts/isolated: private mount, cgroup and network namespaces,
# /sys/fs/cgroup showing our own cgroup as every hierarchy's root); the store is a private directory,
# cgroupfs manager, file events, --network none, a cgroup parent of its own. Everything it makes (the
# store, its mounts, the cgroups, conmon processes) is removed at the end.
set -uo pipefail

if [ "${_MOBY_ISOLATED:-}" != 1 ]; then
    [ $# -ge 2 ] || { sed -n '2,3p' "$0" | sed 's/^# //' >&2; exit 2; }
    exec "$(cd "$(dirname "$0")/.." && pwd)/scripts/isolated" "$0" "$@"
fi

ROUNDS=$1; shift
CG=/sys/fs/cgroup
T=$(mktemp -d /tmp/moby-bench-podman.XXXXXX) || exit 1
PARENT=/moby-bench-podman-${T##*.}
P() {
    podman --root "$T/root" --runroot "$T/runroot" --tmpdir "$T/tmp" --network-config-dir "$T/net" \
        --storage-driver overlay --cgroup-manager cgroupfs --events-backend file "$@"
}
cleanup() {
    P rm -a -f -t 0 >/dev/null 2>&1
    local p h
    for p in /proc/[0-9]*; do  # conmon processes of this store, by pid
        [ "$(cat "$p/comm" 2>/dev/null)" = conmon ] || continue
        { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -qF -- "$T/" && kill -9 "${p#/proc/}" 2>/dev/null
    done
    awk -v p="$T/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while IFS= read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf --one-file-system "$T"
    for h in "$CG" "$CG"/*/; do
        h=${h%/}
        [ -d "$h$PARENT" ] && find "$h$PARENT" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

R=$T/rootfs
mkdir -p "$T/root" "$T/runroot" "$T/tmp" "$T/net" "$R/bin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/tmp"
cp "$(command -v busybox)" "$R/bin/busybox" && ln -s busybox "$R/bin/true" && ln -s busybox "$R/bin/sh"
printf 'root:x:0:0:root:/:/bin/sh\n' > "$R/etc/passwd"
tar -C "$R" -cf "$T/rootfs.tar" . && P import "$T/rootfs.tar" localhost/bb:latest >/dev/null 2>"$T/err" || exit 1

FLAGS=(--rm --network none --cgroup-parent "$PARENT" --pull never --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
declare -A samples=()
for round in $(seq 0 "$ROUNDS"); do
    for runtime in "$@"; do
        started=$(date +%s%N)
        P --runtime "$runtime" run "${FLAGS[@]}" localhost/bb true >/dev/null 2>"$T/err" \
            || { echo "podman run with $runtime failed: $(tail -n1 "$T/err")" >&2; exit 1; }
        elapsed=$(( $(date +%s%N) - started ))
        [ "$round" = 0 ] || samples[$runtime]+=" $(awk -v ns="$elapsed" 'BEGIN { printf "%.2f", ns / 1e6 }')"
    done
done
for runtime in "$@"; do echo "$runtime${samples[$runtime]}"; done
