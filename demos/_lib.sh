# Shared by the seed's terminal sessions in this folder. Source it; do not run it.
# MOBY is how to call moby-dick (default: the installed command, else python3 -m moby_dick).
if [ -z "${MOBY:-}" ]; then
  if command -v moby-dick >/dev/null 2>&1; then MOBY=moby-dick; else MOBY="python3 -m moby_dick"; fi
fi
if [ "$(id -u)" != 0 ]; then echo "run me as root: sudo $0" >&2; exit 77; fi
# Print a command as a student would type it, then run it.
run() { printf '\n> %s\n' "$*"; "$@"; }
moby() { printf '\n> moby-dick %s\n' "$*" >&2; $MOBY "$@"; }
check() { if eval "$1"; then echo "ok: $2"; else echo "FAILED: $2" >&2; exit 1; fi; }
