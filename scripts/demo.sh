#!/usr/bin/env bash
# Sets up SkillCert, seeds a demo station and a demo registry under ./demo-instance, and serves
# both (the registry in the background, the station in the foreground; Ctrl-C stops both).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export STATION_INSTANCE="$PWD/demo-instance/station"
export REGISTRY_INSTANCE="$PWD/demo-instance/registry"
host=${HOST:-0.0.0.0}
station_port=${STATION_PORT:-5000}
registry_port=${REGISTRY_PORT:-8000}

.venv/bin/station demo
.venv/bin/registry init
REGISTRY_OPERATOR_PASSWORD='Demo@2026' .venv/bin/registry operators add operator --name 省级运营员

.venv/bin/registry run --host "$host" --port "$registry_port" --workers 2 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true' EXIT

cat <<MSG

  SkillCert demo
  --------------
  station console:  http://localhost:${station_port}/console/
      logins:       admin / Demo@2026 (station admin); examiner1 … examiner4,
                    chief (chief examiner), supervisor — all with password Demo@2026
  exam terminal:    http://localhost:${station_port}/exam/   (a candidate's number and ID digits are printed above)
  registry:         http://localhost:${registry_port}/   (operator / Demo@2026)
  instance data:    $PWD/demo-instance

MSG
.venv/bin/station run --host "$host" --port "$station_port"
