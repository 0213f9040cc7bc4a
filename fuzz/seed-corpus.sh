#!/bin/sh
# Seeds the cargo-fuzz targets from the shared syslog conformance corpus (and the
# project's own configuration files for `config`): one file per case in
# fuzz/corpus/<target>/, which is git-ignored. Run it from anywhere, then fuzz:
#
#   fuzz/seed-corpus.sh [CORPUS_DIR]        # default: ../shared/corpus beside the project
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O parse -- -max_total_time=600
#
# Each target reads its seeds the way it reads fuzz input: `parse` the raw
# message, `framing` a cut byte then a TCP stream, `relp` a limit byte then a RELP
# session (open, then the corpus messages as syslog frames), `config` TOML text,
# `asa` the Cisco ASA/FTD lines of the parser's tests (fuzz/seeds/asa.txt, one a line).
set -eu

fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
corpus=${1:-$root/../shared/corpus}
[ -f "$corpus/parse-cases.jsonl" ] || {
    echo "seed-corpus.sh: no parse-cases.jsonl in $corpus; pass the corpus directory" >&2
    exit 1
}

# The base64 values of "key" in a JSON-lines file, one a line (base64 has no quotes).
values() {
    grep -o "\"$1\": \"[^\"]*\"" "$2" | sed 's/^[^:]*: "\(.*\)"$/\1/'
}

for t in parse framing relp config asa; do
    mkdir -p "$fuzz/corpus/$t"
done

n=0
values raw_b64 "$corpus/parse-cases.jsonl" | while read -r b64; do
    n=$((n + 1))
    printf '%s' "$b64" | base64 -d >"$fuzz/corpus/parse/case-$n"
    # framing: the message alone and LF-terminated, with two cut bytes (max, chunk).
    for cut in 7 200; do
        { printf "\\$(printf %o $cut)"; printf '%s' "$b64" | base64 -d; printf '\n'; } \
            >"$fuzz/corpus/framing/message-$n-$cut"
    done
    # relp: a session carrying the message; the limit byte 255 allows 2040 bytes.
    len=$(printf '%s' "$b64" | base64 -d | wc -c)
    offer='relp_version=0
relp_software=seed
commands=syslog'
    {
        printf '\377'
        printf '1 open %s %s\n' "${#offer}" "$offer"
        printf '2 syslog %s ' "$len"
        printf '%s' "$b64" | base64 -d
        printf '\n3 close 0\n'
    } >"$fuzz/corpus/relp/session-$n"
done

n=0
values input_b64 "$corpus/framing-cases.jsonl" | while read -r b64; do
    n=$((n + 1))
    for cut in 3 64 255; do
        { printf "\\$(printf %o $cut)"; printf '%s' "$b64" | base64 -d; } \
            >"$fuzz/corpus/framing/stream-$n-$cut"
    done
done

for f in "$root"/config/*.toml "$root"/packaging/syslane.toml; do
    [ -f "$f" ] && cp "$f" "$fuzz/corpus/config/$(basename "$(dirname "$f")")-$(basename "$f")"
done

n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" >"$fuzz/corpus/asa/line-$n"
done <"$fuzz/seeds/asa.txt"

for t in parse framing relp config asa; do
    echo "$t: $(ls "$fuzz/corpus/$t" | wc -l) seeds in fuzz/corpus/$t"
done
