#!/usr/bin/env bash
# Sets up SkillCert, seeds a demo station in ./demo-instance and serves it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export STATION_INSTANCE="$PWD/demo-instance"
host=${HOST:-0.0.0.0}
port=${PORT:-5000}
.venv/bin/station demo
cat <<MSG

  SkillCert demo station
  ----------------------
  console:   http://localhost:${port}/console/
  logins:    admin / Demo@2026 (station admin), examiner1..3, chief, supervisor (same password)
  instance:  $STATION_INSTANCE

MSG
exec .venv/bin/station run --host "$host" --port "$port"
