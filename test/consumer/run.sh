#!/usr/bin/env bash
# The consumer test: the package as a user gets it. Packs this repository
# (`npm pack` from a clean tree, so `prepack` must build), installs the tarball
# into a fresh project outside the repository with the install line documented
# in docs/getting-started.md, type-checks test/consumer/app.ts and every ```ts
# block of README.md and of every page in docs/ with the strictest flags a
# user may have, then runs the compiled program with plain `node` (no tsx) on
# each Node binary given, and `require("underway")` on each.
#
# Usage: DATABASE_URL=postgres://… test/consumer/run.sh [node binary…]
# (default: the `node` on PATH). Each run gets its own database, created from
# DATABASE_URL's server and dropped at the end. A ```ts block preceded by the
# line `<!-- consumer: skip -->` is not compiled (for deliberate fragments);
# `<!-- consumer: preamble` … `-->` holds declarations a page takes as given;
# `<!-- consumer: file DIR/NAME.ts -->` puts the next block in a file of its
# own (the quick start's tasks.ts, worker.ts and producer.ts, which import
# each other), and getting-started's quick start then runs as written.
# Prints one line per check and ends with `consumer: N passed, M failed`.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
nodes=()
for node in "${@:-node}"; do
  # Absolute paths: the checks run from inside the consumer project.
  case $node in
    */*) nodes+=("$(cd "$(dirname "$node")" && pwd)/$(basename "$node")") ;;
    *) nodes+=("$(command -v "$node")") ;;
  esac
done
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL server the test may create databases on}"
timeout_s=${CONSUMER_TIMEOUT_S:-60}
tsc=("$(command -v node)" "$repo/node_modules/typescript/bin/tsc")

work=$(mktemp -d "${TMPDIR:-/tmp}/underway-consumer.XXXXXX")
app=$work/app
databases=()
passed=0
failed=0

# Runs SQL on the server of DATABASE_URL (its maintenance database), through
# the pg the documented install line put into the consumer project.
admin_sql() {
  (cd "$app" && node --input-type=module -e '
    import pg from "pg";
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = "/postgres";
    const client = new pg.Client({ connectionString: url.href });
    await client.connect();
    try { await client.query(process.argv[1]); } finally { await client.end(); }
  ' "$1")
}

database_url() {
  node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' \
    "$DATABASE_URL" "$1"
}

cleanup() {
  for db in "${databases[@]}"; do admin_sql "drop database if exists $db with (force)" >/dev/null 2>&1; done
  if [ "${CONSUMER_KEEP:-}" = 1 ]; then echo "consumer: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pass() {
  passed=$((passed + 1))
  echo "  ok    $1${2:+ ($2 s)}"
}

fail() {
  failed=$((failed + 1))
  echo "  FAIL  $1${3:+ ($3 s)}"
  if [ -s "$2" ]; then sed -e 's/^/        /' "$2" | tail -n 40; fi
}

# check NAME COMMAND…: runs the command in a subshell (its `cd` stays there),
# its output kept for a failure report.
check() {
  local name=$1 log started=$SECONDS
  shift
  log=$(mktemp "$work/log.XXXXXX")
  if ("$@") >"$log" 2>&1; then
    pass "$name" $((SECONDS - started))
  else
    fail "$name" "$log" $((SECONDS - started))
  fi
}

summary() {
  echo "consumer: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# A step the rest depends on: on failure, report and stop.
required() {
  local before=$failed
  check "$@"
  if [ "$failed" -gt "$before" ]; then
    summary
    exit 1
  fi
}

echo "consumer test in $work"

# 1. Pack from a clean tree: only `prepack` can have built dist/.
pack() {
  mkdir -p "$work/pack" && cd "$repo" && npm run clean && npm pack --pack-destination "$work/pack"
}
required "npm pack (prepack builds dist/)" pack
tarball=$(ls "$work"/pack/underway-*.tgz)

contents() {
  local files
  files=$(tar -tzf "$tarball")
  local must=(package/LICENSE package/README.md package/package.json package/dist/src/index.js
    package/dist/src/index.d.ts package/dist/src/cli/main.js package/db/migrations/0001_init.sql
    package/db/queries/tasksClaim.sql package/dist/src/testing/index.js package/dist/src/testing/index.d.ts)
  for file in "${must[@]}"; do
    grep -qx "$file" <<<"$files" || { echo "missing: $file"; return 1; }
  done
  # Source maps would point at sources we do not ship (docs/design/packaging.md).
  if grep -E '\.map$|^package/(src|test|examples|benchmarks)/' <<<"$files"; then
    echo "unexpected files above"
    return 1
  fi
}
check "tarball has dist/, db/, LICENSE and no maps or sources" contents

# 2. A fresh project, with the documented install line (the tarball in place
# of the registry name), then what a TypeScript user adds for Node's types.
install_line=$(grep -m1 -E '^npm install underway( |$)' "$repo/docs/getting-started.md")
project() {
  [ -n "$install_line" ] || { echo "no 'npm install underway …' line in docs/getting-started.md"; return 1; }
  mkdir -p "$app" && cd "$app" &&
    npm init -y >/dev/null && npm pkg set type=module &&
    echo "\$ ${install_line/underway/$tarball}" &&
    ${install_line/underway/$tarball} --no-audit --no-fund &&
    npm install --save-dev --no-audit --no-fund @types/node@20 zod@4 # zod: getting-started's zod block
}
required "install: ${install_line:-<missing>}" project

# 3. Type-check the program and the documentation's snippets in one tsc run,
# emitting JavaScript for plain node. Each page's ts blocks, read in order,
# form one program (a page introduces names and later blocks use them); a
# block preceded by `<!-- consumer: skip -->` is left out. A page may declare
# what its fragments take as given (a mailer, the client) in a comment the
# reader does not see, between `<!-- consumer: preamble` and `-->` lines: it
# is compiled in place, in order with the blocks (`<!-- consumer: preamble
# DIR/NAME.ts` puts it in that file instead, for the blocks sent there, so
# that sections of one page can each import what they use). A block after
# `<!-- consumer: file DIR/NAME.ts -->` goes to snippets/DIR/NAME.ts instead
# (blocks naming one file are concatenated). A block indented in a list item
# counts too, its indentation removed.
mkdir -p "$app/snippets"
cp "$repo/test/consumer/app.ts" "$app/app.ts"
for md in README.md docs/*.md; do
  awk -v file="$app/snippets/$(basename "$md" .md).ts" -v dir="$app/snippets" '
    /^<!-- consumer: skip -->[[:space:]]*$/ { skip = 1; next }
    /^<!-- consumer: file [A-Za-z0-9_.\/-]+\.ts -->[[:space:]]*$/ { target = dir "/" $4; next }
    /^<!-- consumer: preamble[[:space:]]*$/ { preamble = 1; pre = file; print "// preamble" > pre; next }
    /^<!-- consumer: preamble [A-Za-z0-9_.\/-]+\.ts[[:space:]]*$/ {
      preamble = 1; pre = dir "/" $4
      d = pre; sub(/\/[^\/]*$/, "", d); system("mkdir -p \"" d "\"")
      print "// preamble" > pre; next
    }
    preamble && /^-->[[:space:]]*$/ { preamble = 0; next }
    preamble { print > pre; next }
    !inside && /^[[:space:]]*```(ts|typescript)[[:space:]]*$/ {
      inside = 1; n++; keep = !skip; skip = 0
      indent = index($0, "`") - 1
      out = target != "" ? target : file; target = ""
      if (out != file) { d = out; sub(/\/[^\/]*$/, "", d); system("mkdir -p \"" d "\"") }
      if (keep) print "// block " n > out
      next
    }
    inside && /^[[:space:]]*```/ { inside = 0; next }
    inside { if (keep) print substr($0, indent + 1) > out; next }
    /[^[:space:]]/ { skip = 0 }
    # A module of its own, even without an import: pages do not share names.
    END { print "export {};" > file }
  ' "$repo/$md"
done
tsc_started=$SECONDS
(cd "$app" && "${tsc[@]}" --pretty false --strict --exactOptionalPropertyTypes \
  --module nodenext --moduleResolution nodenext --rootDir . --outDir out \
  app.ts $(cd "$app" && find snippets -name '*.ts' | sort) >"$work/tsc.log" 2>&1)
echo "  tsc   $(($(find "$app"/snippets -name '*.ts' | wc -l) + 1)) files ($((SECONDS - tsc_started)) s)"

# tsc_clean PATTERN: no tsc error in the files whose path matches (an error
# is its `file(line,col): error` line and the indented lines under it).
# The pattern goes through the environment: `awk -v` would eat its backslashes.
tsc_clean() {
  local errors
  errors=$(re="^$1\\(" awk '$0 ~ ENVIRON["re"] { p = 1; print; next } p && /^ / { print; next } { p = 0 }' \
    "$work/tsc.log") || return 1
  [ -z "$errors" ] || { echo "$errors"; return 1; }
}
check "types: the published .d.ts (no skipLibCheck)" tsc_clean 'node_modules/[^(]*'
check "types: app.ts" tsc_clean 'app\.ts'
for snippet in $(cd "$app" && find snippets -name '*.ts' | sort); do
  name=$snippet
  check "types: $name (from the docs)" tsc_clean "${name//./\\.}"
done
if grep -E 'error TS' "$work/tsc.log" | grep -qvE '^(node_modules/|app\.ts\(|snippets/)'; then
  fail "types: tsc reported other errors" "$work/tsc.log"
fi

# 4. Run the program on each Node, in its own database; it must exit by
# itself after close() within the time limit.
run_app() {
  local node=$1 url=$2 code
  cd "$app" && DATABASE_URL=$url timeout -k 5 "$timeout_s" "$node" out/app.js
  code=$?
  if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    echo "did not exit by itself within ${timeout_s} s (killed)"
  fi
  return "$code"
}

# The decision (docs/design/packaging.md): ESM-only, and require() works
# through Node's require(esm) on Node >= 20.19 / 22.12, with no warning.
require_works() {
  local node=$1 stderr
  cd "$app" || return 1
  stderr=$("$node" -e '
    const underway = require("underway");
    if (typeof underway.Underway?.connect !== "function") throw new Error("require(\"underway\") has no Underway.connect");
    // The testing kit is a subpath export of its own (package.json "exports").
    if (typeof require("underway/testing").perform !== "function") throw new Error("require(\"underway/testing\") has no perform");
  ' 2>&1 >/dev/null) || { echo "$stderr"; return 1; }
  if [ -n "$stderr" ]; then
    echo "stderr: $stderr"
    return 1
  fi
}

# The `underway` bin as npm installed it: found by npx, run by the node on
# PATH through its #!/usr/bin/env node line (so PATH picks the Node version).
cli_works() {
  local node=$1 url=$2 out code
  cd "$app" || return 1
  export PATH="$(dirname "$node"):$PATH" DATABASE_URL=$url
  out=$(npx --no-install underway --help) || { echo "--help failed: $out"; return 1; }
  grep -q "Usage: underway <command>" <<<"$out" || { echo "unexpected help: $out"; return 1; }
  # app.js migrated the default schema; a fresh one has every migration pending (exit 3).
  out=$(npx --no-install underway migrate --dry-run --schema consumer_cli)
  code=$?
  [ "$code" -eq 3 ] || { echo "migrate --dry-run exited $code, expected 3: $out"; return 1; }
  grep -q 'create table "consumer_cli".task' <<<"$out" || { echo "no SQL in: $out"; return 1; }
  npx --no-install underway migrate --schema consumer_cli || return 1
  npx --no-install underway migrate --dry-run --schema consumer_cli || { echo "still pending after migrate"; return 1; }
  npx --no-install underway pause email --schema consumer_cli --json || return 1
}

# flow-control's deploy check, as a pipeline runs it: the installed bin on
# the compiled module (plain node imports it), then the page's check.js.
# Exit 0 with no task; 3 once a task the old schema took is pending.
deploy_check() {
  local node=$1 url=$2 out code
  cd "$app" || return 1
  export PATH="$(dirname "$node"):$PATH" DATABASE_URL=$url
  out=$(npx --no-install underway check out/snippets/deploy/jobs.js)
  code=$?
  [ "$code" -eq 0 ] || { echo "check exited $code with no task, expected 0: $out"; return 1; }
  "$node" --input-type=module -e '
    import * as t from "io-ts";
    import { Underway, defineJob } from "underway";
    const underway = await Underway.connect({ connectionString: process.env.DATABASE_URL });
    await underway.job(defineJob({ queue: "signup", input: t.type({ userId: t.number }) })).enqueue({ userId: 7 });
    await underway.close();
  ' || return 1
  out=$(npx --no-install underway check out/snippets/deploy/jobs.js)
  code=$?
  [ "$code" -eq 3 ] || { echo "check exited $code with a stranded task, expected 3: $out"; return 1; }
  grep -q 'plan: expected string, got undefined' <<<"$out" || { echo "no decode error in: $out"; return 1; }
  out=$(timeout -k 5 "$timeout_s" "$node" out/snippets/deploy/check.js)
  code=$?
  [ "$code" -eq 3 ] || { echo "deploy/check.js exited $code, expected 3: $out"; return 1; }
  grep -q '1 would fail' <<<"$out" || { echo "unexpected output: $out"; return 1; }
}

# getting-started's quick start, as a reader runs it: the worker in the
# background, the producer until it prints the output, then SIGINT to the
# worker, which must finish and exit 0 by itself.
quick_start() {
  local node=$1 url=$2 dir=out/snippets/quickstart worker code waited=0
  cd "$app" || return 1
  export DATABASE_URL=$url
  "$node" "$dir/worker.js" >"$work/worker.log" 2>&1 &
  worker=$!
  timeout -k 5 "$timeout_s" "$node" "$dir/producer.js" >"$work/producer.log" 2>&1
  code=$?
  echo "producer (exit $code):" && cat "$work/producer.log"
  kill -INT "$worker" 2>/dev/null
  while kill -0 "$worker" 2>/dev/null && [ "$waited" -lt "$timeout_s" ]; do
    sleep 1
    waited=$((waited + 1))
  done
  if kill -0 "$worker" 2>/dev/null; then
    kill -9 "$worker"
    echo "worker did not exit within ${timeout_s} s of SIGINT (killed)"
    code=1
  fi
  wait "$worker"
  local worker_code=$?
  echo "worker (exit $worker_code after SIGINT):" && cat "$work/worker.log"
  [ "$code" -eq 0 ] && [ "$worker_code" -eq 0 ] || return 1
  grep -q '^sent at [0-9-]*T' "$work/producer.log" || { echo "the producer printed no output"; return 1; }
  grep -q '^sending a welcome email to Ferris' "$work/worker.log" || { echo "the worker ran no task"; return 1; }
}

# create_database NAME: a database of this run, dropped at the end.
create_database() {
  databases+=("$1")
  admin_sql "create database $1" >"$work/createdb.log" 2>&1 && return 0
  fail "node $version: create database $1" "$work/createdb.log"
  return 1
}

index=0
for node in "${nodes[@]}"; do
  index=$((index + 1))
  version=$("$node" --version)
  db="underway_consumer_$$_${RANDOM}_$index"
  create_database "$db" || continue
  check "node $version: app.js (plain node, exits by itself after close())" run_app "$node" "$(database_url "$db")"
  check "node $version: require(\"underway\") and require(\"underway/testing\")" require_works "$node"
  check "node $version: npx underway --help, migrate --dry-run, migrate, pause" cli_works "$node" "$(database_url "$db")"
  check "node $version: flow-control's deploy check (npx underway check, deploy/check.js)" deploy_check "$node" "$(database_url "$db")"
  # The quick start's queue is app.js's `email`, with another input: a database of its own.
  create_database "${db}_quick" || continue
  check "node $version: getting-started's quick start (worker.js, producer.js, SIGINT)" quick_start "$node" "$(database_url "${db}_quick")"
done

summary
