-- Idempotent cluster bootstrap for worktime (run as a superuser, connected to any database).
--
--   psql -v ON_ERROR_STOP=1 -v owner_password=... -v app_password=... -v keycloak_password=... \
--        -d postgres -f deploy/postgres/bootstrap.sql
--
-- Also works unchanged as a docker-entrypoint-initdb.d script (dev default passwords apply).
-- Creates roles + databases only.  Table privileges for worktime_app are granted by the
-- app's migrations (run as worktime_owner), not here.

\set ON_ERROR_STOP on

\if :{?owner_password}
\else
  \set owner_password worktime_owner
\endif
\if :{?app_password}
\else
  \set app_password worktime_app
\endif
\if :{?keycloak_password}
\else
  \set keycloak_password keycloak
\endif

-- Roles ---------------------------------------------------------------------
-- CREATE ROLE has no IF NOT EXISTS: generate it conditionally, then (re)apply attributes
-- with ALTER so re-running converges on the intended state.

SELECT 'CREATE ROLE worktime_owner'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'worktime_owner') \gexec
SELECT format('ALTER ROLE worktime_owner LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS PASSWORD %L',
              :'owner_password') \gexec

-- The runtime role: no DDL, subject to row-level security, and NOINHERIT so it can never
-- silently pick up privileges from a role it is later made a member of.
SELECT 'CREATE ROLE worktime_app'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'worktime_app') \gexec
SELECT format('ALTER ROLE worktime_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD %L',
              :'app_password') \gexec

SELECT 'CREATE ROLE keycloak'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keycloak') \gexec
SELECT format('ALTER ROLE keycloak LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L',
              :'keycloak_password') \gexec

-- Databases -------------------------------------------------------------------
-- CREATE DATABASE cannot run inside a DO block / function, hence \gexec.

SELECT 'CREATE DATABASE worktime OWNER worktime_owner ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'worktime') \gexec
ALTER DATABASE worktime OWNER TO worktime_owner;
-- Only the two worktime roles may connect (PUBLIC gets CONNECT/TEMP by default).
REVOKE ALL ON DATABASE worktime FROM PUBLIC;
GRANT CONNECT ON DATABASE worktime TO worktime_app;

SELECT 'CREATE DATABASE keycloak OWNER keycloak ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'keycloak') \gexec
ALTER DATABASE keycloak OWNER TO keycloak;
REVOKE ALL ON DATABASE keycloak FROM PUBLIC;

-- Schemas (per database) ------------------------------------------------------

\connect worktime
ALTER SCHEMA public OWNER TO worktime_owner;
-- PostgreSQL < 15 lets everyone create in public; make it explicit for all versions.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO worktime_app;

\connect keycloak
ALTER SCHEMA public OWNER TO keycloak;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
