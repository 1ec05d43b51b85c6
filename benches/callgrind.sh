#!/usr/bin/env bash
# Instructions lambda-sim executes per invocation, counted by callgrind: repeatable to within a
# few percent whatever else the machine is doing, unlike times. The server runs under valgrind
# with an external runtime, so that its exits need no polling (valgrind 3.19 does not know
# pidfd_open); the runtime and the invoker are the e2e bench's helper roles, natively. User
# space only.
#
#   benches/callgrind.sh [N] [lambda-sim options...]     e.g. benches/callgrind.sh 2000 --quiet
#
# With WITH_EXTENSION=1, lambda-sim also runs one external extension (the e2e bench's helper,
# back on event/next at once); with EXTENSIONS=N, N of them.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
shift || true
command -v valgrind >/dev/null || { echo "valgrind is required"; exit 1; }

cargo bench --no-run --bench e2e 2>/dev/null
helper=$(ls -t target/release/deps/e2e-* | grep -v '\.d$' | head -1)
out=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
invoke=$(port); api=$(port)
extension=()
count=${EXTENSIONS:-${WITH_EXTENSION:+1}}
for i in $(seq 1 "${count:-0}"); do
    if [ "$i" = 1 ]; then
        extension+=(--extension "bench-ext=$PWD/$helper --bench-role=extension")
    else
        extension+=(--extension "bench-ext-$i=$PWD/$helper --bench-role=extension --bench-name=bench-ext-$i")
    fi
done

valgrind --tool=callgrind --callgrind-out-file="$out/cg" target/release/lambda-sim \
    --invoke-addr "127.0.0.1:$invoke" --runtime-api-addr "127.0.0.1:$api" --external-runtime "${extension[@]}" "$@" \
    >"$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true; kill $runtime 2>/dev/null || true; rm -rf "$out"' EXIT
until grep -q "lambda-sim ready" "$out/sim.log"; do sleep 0.2; done
LAMBDA_SIM_BENCH_ROLE=runtime AWS_LAMBDA_RUNTIME_API="127.0.0.1:$api" "$helper" >/dev/null 2>&1 &
runtime=$!
run() {
    LAMBDA_SIM_BENCH_ROLE=invoke LAMBDA_SIM_BENCH_PEER="127.0.0.1:$invoke" \
        LAMBDA_SIM_BENCH_COUNT="$1" "$helper"
}
run 200                                 # warm up: the init, first allocations
callgrind_control -z $sim >/dev/null 2>&1
run "$n"
callgrind_control -d $sim >/dev/null 2>&1
sleep 1
total=$(callgrind_annotate "$out/cg.1" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "command: ${WITH_EXTENSION:+WITH_EXTENSION=1 }${EXTENSIONS:+EXTENSIONS=$EXTENSIONS }benches/callgrind.sh $n $*"
echo "lambda-sim user-space instructions per invocation over HTTP: $((total / n)) ($total for $n)"
