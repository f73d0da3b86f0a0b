# Sourced by the local scripts: servers_running succeeds when .local/env.sh exists and the PostgreSQL and
# RabbitMQ (management API) it names answer, leaving its variables exported in the caller.
servers_running() {
  [ -f .local/env.sh ] || return 1
  # shellcheck disable=SC1091
  source .local/env.sh
  local port
  port="$(sed -n 's/.*Port=\([0-9]*\).*/\1/p' <<<"$BROKERING_POSTGRES")"
  (exec 3<>"/dev/tcp/127.0.0.1/${port:-5432}") 2>/dev/null || return 1
  curl -fsS -o /dev/null --max-time 5 "${BROKERING_RABBITMQ_MANAGEMENT%/}/api/overview" 2>/dev/null
}
