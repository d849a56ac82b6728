"""The head row, and a PostgreSQL trigger that refuses UPDATE and DELETE on audit events.

The trigger is the production path's rule (issue 4). It does not stop a database
superuser who drops it, nor TRUNCATE by the table's owner (which the test suite's flush
between tests relies on): the hash chain and `verify_audit` are what detect those. The
embedded SQLite mode has no trigger; there the chain alone detects changes.
"""

from django.db import migrations

PG_FORWARD = """
CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_event_append_only
  BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_refuse_change();
"""


def forward(apps, schema_editor):
    apps.get_model("audit", "AuditHead").objects.get_or_create(pk=1)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_events")]
    operations = [migrations.RunPython(forward, backward)]
