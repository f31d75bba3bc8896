#!/bin/sh
# Creates the namespace and registers flowguard's search attributes (kept in step with src/shared/contracts.ts).
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do sleep 1; done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$ns" >/dev/null 2>&1 ||
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$ns" --retention 30d
for attr in Symbol=Keyword PositionId=Keyword MonitorState=Keyword AlertCount=Int LastAlertSeverity=Keyword \
  ExitSignal=Bool OrderSide=Keyword OrderState=Keyword ClientOrderId=Keyword BrokerOrderId=Keyword; do
  name="${attr%%=*}"; type="${attr#*=}"
  temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$ns" --name "$name" --type "$type" ||
    echo "search attribute $name already registered"
done
echo "namespace $ns ready"
