"""The grants of the database role the portal runs as, which must not own the tables.

Migrations (and audit_purge) run as the owner; web, workers and beat connect as this role. It may read and
write the portal's tables, but on the audit table only SELECT and INSERT, and since it owns nothing it cannot
ALTER TABLE … DISABLE TRIGGER: the append-only trigger holds against it."""
import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from portal.models import AuditEvent

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def app_role_grants(role: str) -> list[str]:
    """The statements, run by the owner after every migrate, that give `role` what the portal needs."""
    if not ROLE_NAME.match(role):
        raise ValueError(f"{role!r} is not a plain lower-case role name")
    quote = connection.ops.quote_name
    role, database, audit = quote(role), quote(connection.settings_dict["NAME"]), quote(AuditEvent._meta.db_table)
    return [
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]


class Command(BaseCommand):
    help = (
        "Print (or with --execute, run as the tables' owner) the grants of the role the portal connects as: "
        "everything it needs, and on the audit table only SELECT and INSERT. Run after every migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the application's login role (create it first: CREATE ROLE … LOGIN PASSWORD …)")
        parser.add_argument("--execute", action="store_true", help="run the statements instead of printing them")

    def handle(self, *args, role, execute, **options):
        if connection.vendor != "postgresql":
            raise CommandError("the application role is a PostgreSQL setting; this database is " + connection.vendor)
        try:
            statements = app_role_grants(role)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not execute:
            self.stdout.write(";\n".join(statements) + ";")
            return
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(f"granted {role} the portal's privileges (audit table: SELECT, INSERT)")
