#!/usr/bin/env bash
# Creates the Azure side of syslane for a Log Analytics workspace, in the
# workspace's resource group and region: a data collection rule with syslane's
# streams (Syslog, SyslaneHeartbeat_CL, and CommonSecurityLog when the workspace
# has Microsoft Sentinel), the rule's logs ingestion endpoint, and, given the
# object id of the agent's identity, its Monitoring Metrics Publisher role on the
# rule. Prints the [output] section for /etc/syslane/syslane.toml.
#
#   deploy.sh [OPTIONS] RESOURCE_GROUP WORKSPACE_NAME [AGENT_PRINCIPAL_OBJECT_ID]
#
#   --security-stream auto|on|off   CEF records into CommonSecurityLog (needs
#                                   Microsoft Sentinel); auto, the default, turns
#                                   it on when the workspace has that table
#   --syslog-extra-columns          keep MsgId, ProcId, StructuredData, RawMessage,
#                                   ParseFailed, Truncated in Syslog _CF columns
#   --private-link                  also create a data collection endpoint and
#                                   print its endpoint (for Azure Monitor private link)
#   --principal-type TYPE           ServicePrincipal (default: app registrations
#                                   and managed identities), User or Group
#
# Needs the Azure CLI, logged in (`az login`) as someone who may create the rule
# (Contributor on the resource group) and assign roles (Owner, User Access
# Administrator or Role Based Access Control Administrator).
set -euo pipefail

usage() {
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
fail() {
    echo "deploy.sh: $*" >&2
    exit 1
}

security=auto
extras=false
private_link=false
principal_type=ServicePrincipal
while [ $# -gt 0 ]; do
    case $1 in
        --security-stream)
            [ $# -ge 2 ] || usage
            case $2 in auto | on | off) security=$2 ;; *) usage ;; esac
            shift 2
            ;;
        --syslog-extra-columns) extras=true; shift ;;
        --private-link) private_link=true; shift ;;
        --principal-type)
            [ $# -ge 2 ] || usage
            principal_type=$2
            shift 2
            ;;
        -h | --help) usage ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] && [ $# -le 3 ] || usage
group=$1
workspace=$2
principal=${3:-}
# Options come before the names: one written after them would otherwise be
# taken for a name or for the principal's object id.
for arg in "$@"; do
    case $arg in -*) fail "options go before RESOURCE_GROUP and WORKSPACE_NAME (found $arg after them)" ;; esac
done
guid='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
[ -z "$principal" ] || [[ $principal =~ $guid ]] ||
    fail "AGENT_PRINCIPAL_OBJECT_ID must be an object id (a GUID such as 00000000-0000-0000-0000-000000000000), not '$principal'"
here=$(cd "$(dirname "$0")" && pwd)
command -v az >/dev/null 2>&1 || fail "the Azure CLI (az) is not installed: https://learn.microsoft.com/cli/azure/install-azure-cli"

# The rule must be in the workspace's region.
location=$(az monitor log-analytics workspace show \
    --resource-group "$group" --workspace-name "$workspace" \
    --query location --output tsv) ||
    fail "could not read workspace $workspace in resource group $group (the Azure CLI's message is above)"
location=${location//[$'\t\r\n ']/}
[ -n "$location" ] || fail "the Azure CLI returned no location for workspace $workspace"

# CommonSecurityLog exists only where Microsoft Sentinel is enabled; a rule that
# sends to it elsewhere is refused whole.
if [ "$security" = auto ]; then
    tables=$(az monitor log-analytics workspace table list \
        --resource-group "$group" --workspace-name "$workspace" \
        --query "[?name=='CommonSecurityLog'].name" --output tsv) ||
        fail "could not list the tables of workspace $workspace (the Azure CLI's message is above); or say --security-stream on|off"
    if printf '%s\n' "$tables" | grep -qx 'CommonSecurityLog'; then
        security=on
    else
        security=off
    fi
fi
[ "$security" = on ] && security_param=true || security_param=false

out=$(az deployment group create \
    --resource-group "$group" \
    --name syslane \
    --template-file "$here/azuredeploy.json" \
    --parameters workspaceName="$workspace" location="$location" \
    securityStream="$security_param" syslogExtraColumns="$extras" \
    dataCollectionEndpoint="$private_link" \
    agentPrincipalId="$principal" agentPrincipalType="$principal_type" \
    --query '[properties.outputs.endpoint.value, properties.outputs.dcrImmutableId.value, properties.outputs.dcrResourceId.value]' \
    --output tsv) ||
    fail "the deployment failed (the Azure CLI's message is above)"
# tsv puts one value on each line (or tab-separated): read them either way,
# keeping an empty first value in its place.
mapfile -t values < <(printf '%s\n' "$out" | tr -d '\r' | tr '\t' '\n')
endpoint=${values[0]:-}
dcr=${values[1]:-}
rule_id=${values[2]:-}
case $endpoint in
    https://*) ;;
    *) fail "the deployment returned no logs ingestion endpoint (got '${endpoint}'; the whole answer: $out)" ;;
esac
[ -n "$dcr" ] && [ "${#values[@]}" -le 3 ] ||
    fail "the deployment returned no data collection rule id (got: $out)"
case $rule_id in
    /subscriptions/*/providers/Microsoft.Insights/dataCollectionRules/*) ;;
    *) fail "the deployment returned no resource id for the data collection rule (got '${rule_id}'; the whole answer: $out)" ;;
esac

cat <<TOML
# Add to /etc/syslane/syslane.toml (and fill in [output.auth]):
[output]
plugin = "azure"
endpoint = "$endpoint"
dcr_immutable_id = "$dcr"
stream = "Custom-SyslaneSyslog"
TOML
if [ "$security" = on ]; then
    echo 'security_stream = "Custom-SyslaneSecurity"'
fi
echo 'heartbeat_stream = "Custom-SyslaneHeartbeat"'

echo "# Rule and endpoint created in $location; CommonSecurityLog stream: $security." >&2
if [ "$private_link" = true ]; then
    echo "# Private link: add the data collection endpoint to your Azure Monitor Private Link Scope (AMPLS) before the agent sends through it." >&2
fi
if [ -z "$principal" ]; then
    cat >&2 <<EOF
# No principal given: the agent's identity still needs Monitoring Metrics Publisher
# on the rule. Someone who may assign roles (Owner, User Access Administrator or
# Role Based Access Control Administrator) runs, with the identity's object id:
#   az role assignment create --assignee-object-id OBJECT_ID --assignee-principal-type $principal_type \\
#     --role 'Monitoring Metrics Publisher' --scope '$rule_id'
EOF
else
    echo "# A new role assignment can take up to 30 minutes to apply; until then the agent retries (HTTP 403)." >&2
fi
