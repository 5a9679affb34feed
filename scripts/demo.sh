#!/usr/bin/env bash
# Sets up SkillCert, seeds a demo station and a demo registry under ./demo-instance, enrolls the
# station with the registry and syncs it, and serves both (the registry in the background, the
# station in the foreground; Ctrl-C stops both). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export STATION_INSTANCE="$PWD/demo-instance/station"
export REGISTRY_INSTANCE="$PWD/demo-instance/registry"
host=${HOST:-0.0.0.0}
station_port=${STATION_PORT:-5000}
registry_port=${REGISTRY_PORT:-8000}
registry_url="http://localhost:${registry_port}"
station_code=110101

# The station: its certificates' QR codes open this machine's registry.
.venv/bin/station init --code "$station_code" --name 北京示例职业技能考核站 >/dev/null
grep -q '^REGISTRY_URL' "$STATION_INSTANCE/config.py" \
  || echo "REGISTRY_URL = '${registry_url}'" >>"$STATION_INSTANCE/config.py"
.venv/bin/station demo

# The registry, with an operator and the station recorded (a one-time enrollment token).
.venv/bin/registry init
REGISTRY_OPERATOR_PASSWORD='Demo@2026' .venv/bin/registry operators add operator --name 省级运营员
token=""
if ! .venv/bin/station sync status --json | grep -q '"enrolled": true'; then
  token=$(.venv/bin/registry stations add "$station_code" --name 北京示例职业技能考核站 --city 北京 2>/dev/null | sed -n 2p) \
    || token=$(.venv/bin/registry stations token "$station_code" | sed -n 2p)
fi

.venv/bin/registry run --host "$host" --port "$registry_port" --workers 2 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  .venv/bin/python -c "import urllib.request; urllib.request.urlopen('${registry_url}/healthz', timeout=1)" 2>/dev/null && break
  sleep 0.5
done

# Enroll once, then push what the station has issued and pull the feed.
[ -n "$token" ] && .venv/bin/station enroll "$registry_url" "$token"
.venv/bin/station sync now || echo "(sync will be retried by the station's background job)"

cat <<MSG

  SkillCert demo
  --------------
  station console:  http://localhost:${station_port}/console/
      logins:       admin / Demo@2026 (station admin); examiner1 … examiner4,
                    chief (chief examiner), supervisor — all with password Demo@2026
  exam terminal:    http://localhost:${station_port}/exam/   (a candidate's number and ID digits are printed above)
  results lookup:   http://localhost:${station_port}/results/
  registry:         ${registry_url}/   (console: ${registry_url}/console/ as operator / Demo@2026)
                    a certificate's QR code opens its page there (one link is printed above)
  instance data:    $PWD/demo-instance

MSG
.venv/bin/station run --host "$host" --port "$station_port"
