#!/usr/bin/env bash
# The seed README's "Filesystem" session: the tmpfs on /mytmp exists only inside the container.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

inside=$(moby sh -c 'mount | grep /mytmp')
printf '%s\n' "$inside"
run sh -c 'grep /mytmp /proc/self/mountinfo || echo "(no /mytmp mount on the host)"'
check 'echo "$inside" | grep -q "on /mytmp type tmpfs"' "inside: a tmpfs on /mytmp"
check '! grep -q " /mytmp " /proc/self/mountinfo' "the host has no mount on /mytmp"
