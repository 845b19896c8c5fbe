#!/bin/sh
# Runs once from /docker-entrypoint-initdb.d (postgres image), on an empty data directory: applies
# bootstrap.sql with the passwords from the environment (defaults as in deploy/localstack.py).
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname postgres \
    -v owner_password="${WORKTIME_OWNER_PASSWORD:-worktime_owner}" \
    -v app_password="${WORKTIME_APP_PASSWORD:-worktime_app}" \
    -v keycloak_password="${KEYCLOAK_DB_PASSWORD:-keycloak}" \
    -f /worktime/bootstrap.sql
