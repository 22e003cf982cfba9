#!/usr/bin/env bash
# `make run`: serve the embedded database, with a demo organisation, API key,
# customer, entitlement and customer entitlement made on first start, and
# print a curl line for the seed operation. The demo's ids and key are kept
# in DB.demo (the server stores only the key's hash, so this file is the one
# place the demo key can be shown again).
set -euo pipefail
BIN=${1:-build/entitled}
DB=${DB:-entitled.db}
LISTEN=${LISTEN:-127.0.0.1:8080}
DEMO="$DB.demo"
URL="http://$LISTEN"

first=0
if [ ! -f "$DEMO" ]; then
  ORG=$("$BIN" org create --name "Demo organisation" --db "$DB")
  KEY=$("$BIN" apikey create --org "$ORG" --db "$DB")
  printf 'ORG=%s\nKEY=%s\n' "$ORG" "$KEY" > "$DEMO.tmp"
  first=1
fi

"$BIN" serve --listen "$LISTEN" --db "$DB" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID' INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 $PID 2>/dev/null || { echo "run: the server did not start" >&2; exit 1; }
  sleep 0.1
done

json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
if [ "$first" = 1 ]; then
  # shellcheck disable=SC1090
  . "$DEMO.tmp"
  H=(-H "x-api-key: $KEY" -H "organisation: $ORG" -H "content-type: application/json")
  CUST=$(curl -fsS "${H[@]}" -d '{"customer_name":"Acme Corporation","email":"billing@acme.com"}' "$URL/customers" | json_id)
  ENT=$(curl -fsS "${H[@]}" -d '{"name":"API calls","entitlement_type":"Quantity","units":"calls"}' "$URL/entitlements" | json_id)
  ROW=$(curl -fsS "${H[@]}" -d "{\"customer\":\"$CUST\",\"quantity\":1000,\"quantity_used\":0,\"active_from\":\"2026-01-01T00:00:00Z\",\"expiry_at\":\"2027-01-01T00:00:00Z\"}" "$URL/entitlements/$ENT/customer" | json_id)
  printf 'CUST=%s\nENT=%s\nROW=%s\n' "$CUST" "$ENT" "$ROW" >> "$DEMO.tmp"
  mv "$DEMO.tmp" "$DEMO"
fi
# shellcheck disable=SC1090
. "$DEMO"

cat <<MSG

entitled is serving $URL (database $DB; Ctrl-C stops it)
  organisation: $ORG
  API key:      $KEY
  a customer entitlement: $URL/entitlements/$ENT/customer/$CUST/$ROW

Try the seed operation:

curl -sS -X PATCH "$URL/entitlements/$ENT/customer/$CUST/$ROW" \\
  -H "x-api-key: $KEY" -H "organisation: $ORG" -H "content-type: application/json" \\
  -d '{"entitlement":"$ENT","customer":"$CUST","quantity_used":250}'

Or consume 5 units, exactly once however often it is retried, and read the ledger:

curl -sS -X POST "$URL/entitlements/$ENT/customer/$CUST/consume" \\
  -H "x-api-key: $KEY" -H "organisation: $ORG" -H "content-type: application/json" \\
  -H "Idempotency-Key: demo-consume-1" \\
  -d '{"quantity":5}'
curl -sS "$URL/entitlements/customer/$CUST/ledger" -H "x-api-key: $KEY" -H "organisation: $ORG"

MSG
wait $PID
