#!/usr/bin/env bash
# podman_run.sh ROUNDS RUNTIME...
#
# Time `podman run --rm localhost/bb true` with each OCI runtime, ROUNDS interleaved rounds after one
# warm-up each; print one line per runtime: "RUNTIME ms ms ms ...". Root only, offline, isolated as
# ../shared/peer/podman/scenario isolates podman: inside unshare --cgroup --mount, /sys/fs/cgroup is
# rebuilt from the v1 hierarchies (or a fresh cgroup2 on a v2 host), the store is a private directory,
# cgroupfs manager, file events, --network none, a cgroup parent of its own. Everything it makes (the
# store, its mounts, the cgroups, conmon processes) is removed at the end.
set -uo pipefail

if [ "${_MOBY_BENCH_PODMAN_INNER:-}" != 1 ]; then
    [ $# -ge 2 ] || { sed -n '2,3p' "$0" | sed 's/^# //' >&2; exit 2; }
    export _MOBY_BENCH_PODMAN_INNER=1
    exec unshare --cgroup --mount --propagation private -- "$0" "$@"
fi

ROUNDS=$1; shift
CG=/sys/fs/cgroup
if [ "$(stat -f -c %T "$CG")" = cgroup2fs ]; then
    mount -t cgroup2 cgroup2 "$CG" || exit 1
else
    mapfile -t lines < <(awk '$5 ~ "^/sys/fs/cgroup/" { split($0, parts, " - "); print $5, parts[2] }' /proc/self/mountinfo)
    mount -t tmpfs -o mode=755,nosuid,nodev,noexec bench-cgroup-view "$CG" || exit 1
    for line in "${lines[@]}"; do
        read -r mp fs _ options <<<"$line"
        [ "$fs" = cgroup ] || continue  # the hybrid v2 "unified" tree is left out, as crun and podman want
        options=$(tr ',' '\n' <<<"$options" | grep -v -x -e rw -e ro | paste -sd, -)
        mkdir -p "$mp" && mount -t cgroup -o "$options" cgroup "$mp" || exit 1
    done
fi

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
