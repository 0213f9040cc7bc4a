#!/usr/bin/env bash
# Creates the Azure side of syslane in the resource group of a Log Analytics
# workspace: a data collection endpoint, a data collection rule with syslane's
# streams (Syslog, CommonSecurityLog, SyslaneHeartbeat_CL), and, given the object
# id of the agent's identity, its "Monitoring Metrics Publisher" role on the rule.
# Prints the [output] section for /etc/syslane/syslane.toml.
#
#   deploy.sh RESOURCE_GROUP WORKSPACE_NAME [AGENT_PRINCIPAL_OBJECT_ID]
#
# Needs the Azure CLI (`az login` first).
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
group=$1
workspace=$2
principal=${3:-}
here=$(cd "$(dirname "$0")" && pwd)

read -r endpoint dcr < <(az deployment group create \
    --resource-group "$group" \
    --name syslane \
    --template-file "$here/azuredeploy.json" \
    --parameters workspaceName="$workspace" agentPrincipalId="$principal" \
    --query '[properties.outputs.endpoint.value, properties.outputs.dcrImmutableId.value]' \
    --output tsv | tr '\n' ' ')

cat <<TOML
# Add to /etc/syslane/syslane.toml (and fill in [output.auth]):
[output]
plugin = "azure"
endpoint = "$endpoint"
dcr_immutable_id = "$dcr"
stream = "Custom-SyslaneSyslog"
security_stream = "Custom-SyslaneSecurity"
heartbeat_stream = "Custom-SyslaneHeartbeat"
TOML
if [ -z "$principal" ]; then
    echo "# No principal given: assign 'Monitoring Metrics Publisher' on the rule to the agent's identity yourself." >&2
fi
