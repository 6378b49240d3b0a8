from django.db import migrations

# The event log is append-only: history is evidence for metrics and SLAs, so nothing may
# rewrite it. DELETE stays possible so that deleting a ticket (e.g. on a GDPR request)
# cascades to its events.
FORWARD = """
CREATE FUNCTION support_ticketevent_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'support_ticketevent is append-only: events cannot be changed';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER support_ticketevent_append_only
    BEFORE UPDATE ON support_ticketevent
    FOR EACH ROW EXECUTE FUNCTION support_ticketevent_refuse_update();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS support_ticketevent_append_only ON support_ticketevent;
DROP FUNCTION IF EXISTS support_ticketevent_refuse_update();
"""


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
