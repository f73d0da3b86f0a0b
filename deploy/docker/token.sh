#!/usr/bin/env bash
# Mints a user token for the compose installation, signed with the issuer key deploy/docker/provision.sh made: the
# stand-in for an identity provider (docs/security.md, "Tokens"). Prints the token (a JWT, ES256) on stdout.
#
#   bash deploy/docker/token.sh ROLES SUBJECT [TENANT]
#     ROLES    one role, or several joined by commas (ops,compliance-officer): buyer | distributor | ops |
#              compliance-officer (never service: services sign their own tokens). The token carries them all.
#     TENANT   the buyer's or distributor's id (required when ROLES has buyer or distributor)
#   curl -H "Authorization: Bearer $(bash deploy/docker/token.sh buyer alice@acme acme-servers)" http://127.0.0.1:5100/v1/reservations
#   bash deploy/docker/token.sh compliance-officer ana@compliance            # the console's review desk, nothing else
#   bash deploy/docker/token.sh ops,compliance-officer ana@compliance        # every console page, and the rulings
#
#   BROKERING_SECRETS [deploy/docker/secrets]   where provision.sh wrote issuer-key.pem
#   BROKERING_TOKEN_ISSUER [brokering-compose]  the "iss" the services expect (Authentication__Issuer in docker-compose.yml)
#   BROKERING_TOKEN_MINUTES [60]                lifetime
# Needs openssl and od.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
KEY="${BROKERING_SECRETS:-$HERE/secrets}/issuer-key.pem"
ISSUER="${BROKERING_TOKEN_ISSUER:-brokering-compose}"
MINUTES="${BROKERING_TOKEN_MINUTES:-60}"

die() { echo "[token] $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: token.sh ROLES SUBJECT [TENANT]   (ROLES: one role, or several joined by commas)"
roles=$1 subject=$2 tenant=${3:-}
[ -n "$roles" ] || die "no role given (buyer, distributor, ops, compliance-officer)"
role_list=""
IFS=, read -r -a requested <<< "$roles"
for role in "${requested[@]}"; do
  case "$role" in
    buyer | distributor) [ -n "$tenant" ] || die "a $role token needs a TENANT" ;;
    ops | compliance-officer) ;;
    *) die "unknown role '$role' (buyer, distributor, ops, compliance-officer)" ;;
  esac
  case ",$role_list," in *",\"$role\","*) die "role '$role' given twice" ;; esac
  role_list="${role_list:+$role_list,}\"$role\""
done
# One role is a string, several an array: the services read either as one role claim per role.
role_claim="$role_list"
[ "${#requested[@]}" -eq 1 ] || role_claim="[$role_list]"
# The claims are written into JSON as they are: keep them to characters that need no escaping.
for value in "$subject" "$tenant" "$ISSUER"; do
  [[ "$value" =~ ^[A-Za-z0-9@._:/+-]*$ ]] || die "'$value' has characters this script does not escape"
done
[ -r "$KEY" ] || die "$KEY not found: run deploy/docker/provision.sh first"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

now=$(date +%s)
tenant_claim=""
[ -z "$tenant" ] || tenant_claim="\"tenant\":\"$tenant\","
header='{"alg":"ES256","typ":"JWT"}'
payload="{\"iss\":\"$ISSUER\",\"sub\":\"$subject\",\"role\":$role_claim,$tenant_claim\"aud\":[\"brokering-ordering\",\"brokering-inventory\",\"brokering-compliance\"],\"iat\":$now,\"nbf\":$((now - 5)),\"exp\":$((now + MINUTES * 60))}"
input="$(printf '%s' "$header" | b64url).$(printf '%s' "$payload" | b64url)"

# openssl writes an ECDSA signature as DER, SEQUENCE { INTEGER r, INTEGER s }; a JWS ES256 signature is r and s as
# 32 bytes each, big-endian (RFC 7518 §3.4).
der="$(printf '%s' "$input" | openssl dgst -sha256 -sign "$KEY" | od -An -v -tx1 | tr -d ' \n')"
[ "${der:0:2}" = 30 ] || die "unexpected signature encoding"
pos=4
[ "${der:2:2}" = 81 ] && pos=6
integer() { # the INTEGER at $pos as 64 hex digits, into $value; advances pos
  local length=$((16#${der:pos+2:2}))
  value="${der:pos+4:length*2}"
  pos=$((pos + 4 + length * 2))
  value="${value#00}"
  while [ ${#value} -lt 64 ]; do value="0$value"; done
}
integer; r=$value
integer; s=$value
signature="$(printf "$(printf '%s%s' "$r" "$s" | sed 's/../\\x&/g')" | b64url)"
printf '%s.%s\n' "$input" "$signature"
