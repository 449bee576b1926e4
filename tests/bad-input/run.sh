#!/bin/sh
# run.sh MMC DIR — runs the cases make.sh wrote into DIR/cases (ARGUMENTS may start with
# NAME=VALUE words: the command's environment). Each must: exit with the
# code wanted (2 for bad input, 1 for usage), never by a signal or a crash (< 128), within
# 20 s (timeout exits 124); name the file on stderr; leave no sanitizer report
# ("Sanitizer", "runtime error") on stderr. Prints each failure, exits 1 if any.
set -u
[ $# -eq 2 ] || { echo "usage: run.sh MMC DIR" >&2; exit 1; }
MMC=$1 D=$2
[ -f "$D/cases" ] || { echo "run.sh: no $D/cases (run make.sh first)" >&2; exit 1; }
fail=0 n=0
TAB=$(printf '\t')
while IFS=$TAB read -r want pat args; do
    [ -n "$want" ] || continue
    n=$((n + 1))
    set -f
    # shellcheck disable=SC2086
    set -- $args
    # leading NAME=VALUE words are the command's environment (a fake npm on PATH)
    envs=
    while [ $# -gt 0 ]; do
        case $1 in [A-Z_]*=*) envs="$envs $1"; shift;; *) break;; esac
    done
    # shellcheck disable=SC2086
    timeout 20 env $envs "$MMC" "$@" > "$D/.out" 2> "$D/.err" < /dev/null
    rc=$?
    set +f
    why=
    if [ $rc -eq 124 ]; then why="timed out (20 s)"
    elif [ $rc -ge 128 ]; then why="killed by a signal (exit $rc)"
    elif grep -qE 'Sanitizer|runtime error|LeakSanitizer' "$D/.err"; then why="sanitizer report"
    elif [ $rc -ne "$want" ]; then why="exit $rc, want $want"
    elif [ "$want" -eq 0 ]; then grep -qE "$pat" "$D/.out" || why="stdout does not match '$pat'"
    else
        grep -q '^mmc: error: ' "$D/.err" || why="no 'mmc: error:' on stderr"
        grep -qE "$pat" "$D/.err" || why="stderr does not name '$pat'"
    fi
    if [ -n "$why" ]; then
        fail=$((fail + 1))
        echo "FAIL: mmc $args: $why"
        head -c 1500 "$D/.err" | sed 's/^/    /'
    fi
done < "$D/cases"
echo "bad-input catalogue: $n cases, $fail failed"
[ $fail -eq 0 ]
