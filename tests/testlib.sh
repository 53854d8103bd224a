# testlib.sh — what the shell tests share (sourced: . "$(dirname "$0")/../testlib.sh"): unset
# variables are errors, a scratch folder $tmp removed on exit, ok/bad print one line per check
# ("OK: ..." / "NOT OK: ...") and bad sets fail=1, which the script exits with.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "OK: $*"; }
bad() { echo "NOT OK: $*"; fail=1; }
