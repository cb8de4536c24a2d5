#!/usr/bin/env bash
# Starts the local PostgreSQL cluster if needed and makes sure the Odoo role exists
# (Odoo refuses to run as the postgres superuser).
set -euo pipefail
PGUSER=${PGUSER:-odoo} PGPASSWORD=${PGPASSWORD:-odoo}
if ! command -v pg_isready >/dev/null || ! command -v psql >/dev/null; then
    echo "ERROR: PostgreSQL's client tools are missing. Fix: apt-get install -y postgresql" >&2
    exit 1
fi
if ! pg_isready -q -h 127.0.0.1; then
    if command -v pg_ctlcluster >/dev/null; then
        version=$(ls /etc/postgresql | sort -n | tail -1)
        pg_ctlcluster "$version" main start
    fi
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
fi
if ! PGPASSWORD=$PGPASSWORD psql -h 127.0.0.1 -U "$PGUSER" -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    sql="DO \$\$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PGUSER') THEN
             CREATE ROLE \"$PGUSER\" LOGIN CREATEDB PASSWORD '$PGPASSWORD';
           ELSE
             ALTER ROLE \"$PGUSER\" LOGIN CREATEDB PASSWORD '$PGPASSWORD';
           END IF;
         END \$\$;"
    # As the cluster's superuser over its socket: the PG* variables name the
    # role being created, so they must not reach this psql.
    admin_psql=(env -u PGUSER -u PGPASSWORD -u PGHOST -u PGPORT psql -X -q -v ON_ERROR_STOP=1 -d postgres)
    if [ "$(id -u)" = 0 ]; then
        su postgres -c "${admin_psql[*]}" <<<"$sql"
    else
        "${admin_psql[@]}" <<<"$sql"
    fi
fi
