#!/usr/bin/env bash
# Mutation testing of the trust-deciding code in two passes (docs/mutation.md):
#   1. mutmut over the modules of setup.cfg [mutmut] only_mutate, judged by testcases/ only;
#   2. the survivors of pass 1 judged by the whole suite (tests/ and testcases/).
# mutmut picks, per mutant, only the tests that called the mutated function in its
# statistics run (coverage-based selection), and stops a mutant at its first failing test;
# tests/mutation/mutant_order.py runs first the tests that killed mutants of the same
# function before, then the shortest, so that first failing test comes early.
# Each pass runs in a scratch copy of the tree (MUTATION_WORK, default run/mutation/), so
# the work tree and concurrent runs are untouched. The last line is
#   mutation mutants= killed_by_testcases= killed_total= survived= score_testcases= score_total=
# Exit 0 when both scores reach MUTATION_MIN_TESTCASES / MUTATION_MIN_TOTAL (90 / 98), 1 when
# not, 2 on a usage mistake.
#
# Environment:
#   MUTATION_MODULES  space-separated source files narrowing only_mutate (default: all of it)
#   MUTATION_SUITE    pass-2 test selection (default "tests": with pass 1, the whole suite)
#   MUTATION_JOBS     mutants run at once (default 2)
#   MUTATION_OCTET    the twin lab moves to 127.<octet>.x.x (default 216), away from other runs
#   MUTATION_TREE     the commit to judge (default HEAD), or "worktree" for uncommitted files
#   MUTATION_REUSE_PASS1=1  take pass 1 as it stands in MUTATION_WORK (e.g. a run stopped
#                     early: its unchecked mutants are left out) and run pass 2 only
#   MUTATION_RESUME=1 continue pass 1 in MUTATION_WORK where a stopped run left it (same
#                     scratch copy, so the same tree; judged mutants are not run again)
#   MUTATION_PASS1_MINUTES, MUTATION_PASS2_MINUTES  stop a pass after that long (Ctrl-C
#                     to mutmut) and go on with what it judged: a run that fits a night
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
mutmut="$(dirname "$py")/mutmut"
work=${MUTATION_WORK:-$root/run/mutation}
suite=${MUTATION_SUITE:-tests}
jobs=${MUTATION_JOBS:-2}
octet=${MUTATION_OCTET:-216}
min_testcases=${MUTATION_MIN_TESTCASES:-90}
min_total=${MUTATION_MIN_TOTAL:-98}
tree=${MUTATION_TREE:-HEAD}
pass1_minutes=${MUTATION_PASS1_MINUTES:-0}
pass2_minutes=${MUTATION_PASS2_MINUTES:-0}

fail_usage() { echo "mutation: $*" >&2; exit 2; }
[[ -x "$mutmut" ]] || fail_usage "mutmut is not installed next to $py (pip install -e '.[dev]')"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || fail_usage "MUTATION_JOBS must be a positive number, not '$jobs'"
[[ "$octet" =~ ^[0-9]+$ ]] && (( octet >= 2 && octet <= 254 )) \
    || fail_usage "MUTATION_OCTET must be 2-254, not '$octet'"
[[ "$tree" == worktree ]] || git -C "$root" rev-parse -q --verify "$tree^{commit}" >/dev/null 2>&1 \
    || fail_usage "MUTATION_TREE '$tree' is neither a commit nor 'worktree'"
for limit in "$pass1_minutes" "$pass2_minutes"; do
    [[ "$limit" =~ ^[0-9]+$ ]] || fail_usage "MUTATION_PASS1/2_MINUTES must be whole minutes, not '$limit'"
done
[[ "${MUTATION_RESUME:-}" != 1 || -d "$work/pass1/mutants" ]] \
    || fail_usage "MUTATION_RESUME=1 but $work/pass1 holds no run to continue"
for module in ${MUTATION_MODULES:-}; do
    [[ -f "$root/$module" && "$module" == *.py ]] || fail_usage "no source file $module"
done

# prepare DIR SELECTION: a scratch copy of the tree whose setup.cfg tests with SELECTION.
prepare() {
    local dir=$1 selection=$2
    rm -rf "$dir" && mkdir -p "$dir"
    if [[ "$tree" == worktree ]]; then  # tracked and new files as they are now
        (cd "$root" && git ls-files -co --exclude-standard -z \
            | xargs -0 -I{} sh -c 'test -f "{}" && printf "%s\0" "{}"' \
            | tar --null -cf - -T -) | tar -xf - -C "$dir"
    else  # the committed tree: what nightly runs judge
        (cd "$root" && git archive "$tree") | tar -xf - -C "$dir"
    fi
    (cd "$root" && "$py" - "$dir" "$selection" "$octet" "${MUTATION_MODULES:-}") <<'EOF'
import configparser
import sys
from pathlib import Path

from tests.isolated_lab import isolated_twin_lab

directory, selection, octet, modules = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
lab = isolated_twin_lab(directory.parent, octet)
config = configparser.ConfigParser()
config.read(directory / "setup.cfg")
section = config["mutmut"]
if modules.split():
    section["only_mutate"] = "\n" + "\n".join(modules.split())
section["pytest_add_cli_args_test_selection"] = "\n" + "\n".join(selection.split())
section["pytest_add_cli_args"] = "\n" + "\n".join([
    "-p", "no:randomly", "-p", "tests.mutation.mutant_order", "--lab", str(lab),
    "--phonelab-lease-dir", str(directory / "leases"),
    "--phonelab-log-dir", str(directory / "logs")])
with open(directory / "setup.cfg", "w") as out:
    config.write(out)
EOF
}

# mutmut with SIGINT handled even when this script was started in the background (a
# shell starts background jobs with SIGINT ignored, and Python keeps it ignored).
mutmut_run=("$py" -c 'import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from mutmut.__main__ import cli
sys.argv[0] = "mutmut"
cli()' run --max-children "$jobs")
# mutate DIR MINUTES LOG [MUTANT...]: mutmut run in DIR, stopped like Ctrl-C after MINUTES
# (0: no limit); a stopped run keeps what it judged (its other mutants stay "not checked").
mutate() {
    local dir=$1 minutes=$2 log=$3 rc=0
    shift 3
    if (( minutes > 0 )); then
        (cd "$dir" && timeout --signal=INT --kill-after=120 "${minutes}m" \
            "${mutmut_run[@]}" "$@") > "$log" 2>&1 || rc=$?
        if (( rc == 124 || rc == 137 )); then  # 137: it took longer than 2 min to stop
            echo "mutation: stopped after $minutes min, as MUTATION_PASS*_MINUTES asks ($log)"
            rc=0
        fi
    else
        (cd "$dir" && "${mutmut_run[@]}" "$@") > "$log" 2>&1 || rc=$?
    fi
    return "$rc"
}

# results DIR: "name status" per mutant of the last run there.
results() {
    (cd "$1" && "$mutmut" results --all true 2>/dev/null) \
        | sed -n 's/^ *\([^ :]*\): \(.*\)$/\1 \2/p'
}

start=$(date +%s)
mkdir -p "$work"
if [[ "${MUTATION_REUSE_PASS1:-}" == 1 && -d "$work/pass1/mutants" ]]; then
    echo "mutation: pass 1 reused as it stands ($work/pass1)"
else
    if [[ "${MUTATION_RESUME:-}" == 1 ]]; then
        echo "mutation: pass 1 continued, testcases/ only ($work/pass1)"
    else
        echo "mutation: pass 1, testcases/ only ($work/pass1)"
        prepare "$work/pass1" "testcases"
    fi
    mutate "$work/pass1" "$pass1_minutes" "$work/pass1.log" \
        || { tail -20 "$work/pass1.log" >&2; echo "mutation: pass 1 failed" >&2; exit 1; }
fi
# A run stopped early leaves mutants "not checked": they are left out of every figure.
results "$work/pass1" | grep -v ' not checked$' > "$work/pass1.txt" || true
unchecked=$(results "$work/pass1" | grep -c ' not checked$' || true)

# Killed: a test failed, timed out or crashed. Everything else (survived, no tests,
# suspicious) goes on to pass 2.
killed_re='^[^ ]* (killed|timeout|segfault)$'
mutants=$(wc -l < "$work/pass1.txt")
killed1=$(grep -cE "$killed_re" "$work/pass1.txt" || true)
grep -vE "$killed_re" "$work/pass1.txt" | cut -d' ' -f1 > "$work/pass1-survivors.txt" || true

killed2=0
: > "$work/survivors.txt"
if [[ -s "$work/pass1-survivors.txt" ]]; then
    echo "mutation: pass 2, $(wc -l < "$work/pass1-survivors.txt") survivors against: $suite"
    prepare "$work/pass2" "$suite"
    mapfile -t names < "$work/pass1-survivors.txt"
    mutate "$work/pass2" "$pass2_minutes" "$work/pass2.log" "${names[@]}" \
        || { tail -20 "$work/pass2.log" >&2; echo "mutation: pass 2 failed" >&2; exit 1; }
    results "$work/pass2" | grep -Fwf "$work/pass1-survivors.txt" > "$work/pass2.txt" || true
    killed2=$(grep -cE "$killed_re" "$work/pass2.txt" || true)
    grep -vE "$killed_re" "$work/pass2.txt" > "$work/survivors.txt" || true
fi

while read -r name status; do
    echo "survivor $name ($status)"
done < "$work/survivors.txt"
survived=$(( mutants - killed1 - killed2 ))
echo "mutation run_seconds=$(( $(date +%s) - start )) jobs=$jobs suite='$suite'" \
     "unchecked=$unchecked"
read -r score1 score2 ok < <("$py" -c "
m, k1, k2 = $mutants, $killed1, $killed2
s1, s2 = (100 * k1 / m, 100 * (k1 + k2) / m) if m else (0.0, 0.0)
print(f'{s1:.1f} {s2:.1f}', int(s1 >= $min_testcases and s2 >= $min_total))")
echo "mutation mutants=$mutants killed_by_testcases=$killed1 killed_total=$(( killed1 + killed2 ))" \
     "survived=$survived score_testcases=$score1 score_total=$score2"
[[ "$ok" == 1 ]]
