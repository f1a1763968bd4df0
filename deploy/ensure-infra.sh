#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer on loopback: start them where installed but stopped,
# install them from Debian's packages where missing (as root), or say exactly what to install.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 AMQP_PORT=5672

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # port name seconds
  for _ in $(seq 1 "$3"); do port_open "$1" && return 0; sleep 1; done
  echo "ensure-infra: $2 did not start listening on 127.0.0.1:$1" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-infra: $1 is not installed. Install it with: sudo apt-get update && sudo apt-get install -y $2" >&2
    exit 1
  fi
  echo "ensure-infra: installing $2 from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# PostgreSQL
if ! port_open "$PG_PORT"; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install PostgreSQL postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "ensure-infra: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port "$PG_PORT" PostgreSQL 30
fi
# Our services connect as postgres over TCP without a password (trust on loopback).
if ! psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
  echo "ensure-infra: PostgreSQL runs but refuses 'psql -h 127.0.0.1 -U postgres'." >&2
  echo "  Allow it in pg_hba.conf: host all postgres 127.0.0.1/32 trust (this is a development setup)." >&2
  exit 1
fi

# Each service logs in as its own role (deploy/provision.py), members of crm_services: they
# must give their password, even where loopback is otherwise trusted (postgres stays trusted).
PG_GROUP=crm_services
if [ "$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc \
      "SELECT count(*) FROM pg_hba_file_rules WHERE '+$PG_GROUP' = ANY(user_name)")" = 0 ]; then
  hba=$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc 'SHOW hba_file')
  rules="host all +$PG_GROUP 127.0.0.1/32 scram-sha-256\nhost all +$PG_GROUP ::1/128 scram-sha-256"
  if [ -w "$hba" ]; then
    echo "ensure-infra: $hba: the services' roles (+$PG_GROUP) log in with their password"
    { printf '# webleads-tracker: service roles need their password (deploy/ensure-infra.sh)\n'
      printf "$rules\n"; cat "$hba"; } > "$hba.new" && cat "$hba.new" > "$hba" && rm -f "$hba.new"
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc 'SELECT pg_reload_conf()' >/dev/null
  else
    echo "ensure-infra: to make the services' roles give their password, add at the top of $hba:" >&2
    printf "  $rules\n" >&2
    echo "  then: psql -h 127.0.0.1 -U postgres -c 'SELECT pg_reload_conf()'" >&2
  fi
fi

# RabbitMQ
if ! port_open "$AMQP_PORT"; then
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    apt_install RabbitMQ rabbitmq-server
  fi
  echo "ensure-infra: starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_port "$AMQP_PORT" RabbitMQ 60
fi
echo "ensure-infra: PostgreSQL on $PG_HOST:$PG_PORT and RabbitMQ on 127.0.0.1:$AMQP_PORT are up"
