"""Full-text search of the library (channels_app/documents/search.py): on PostgreSQL a
stored regconfig and two GIN-indexed tsvectors on the document table, on SQLite an FTS5
table; then every existing document indexed. The columns are not model fields: only
search.py reads and writes them, in SQL that differs by database."""

from django.db import migrations

POSTGRES = [
    "ALTER TABLE channels_app_document"
    " ADD COLUMN search_config regconfig NOT NULL DEFAULT 'simple',"
    " ADD COLUMN search_stemmed tsvector,"
    " ADD COLUMN search_plain tsvector",
    "CREATE INDEX document_search_stemmed ON channels_app_document USING GIN (search_stemmed)",
    "CREATE INDEX document_search_plain ON channels_app_document USING GIN (search_plain)",
]
POSTGRES_BACK = [
    "DROP INDEX IF EXISTS document_search_plain",
    "DROP INDEX IF EXISTS document_search_stemmed",
    "ALTER TABLE channels_app_document DROP COLUMN search_config,"
    " DROP COLUMN search_stemmed, DROP COLUMN search_plain",
]
SQLITE = [
    "CREATE VIRTUAL TABLE channels_app_document_fts USING fts5("
    "plain, stems, tokenize = 'unicode61 remove_diacritics 2')",
]
SQLITE_BACK = ["DROP TABLE IF EXISTS channels_app_document_fts"]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES if vendor == "postgresql" else SQLITE:
        schema_editor.execute(sql)
    from channels_app.documents.search import Indexed, index_documents

    Document = apps.get_model("channels_app", "Document")
    index_documents(
        [
            Indexed(d.pk, d.title, d.summary, [t.name for t in d.tags.all()], d.language)
            for d in Document.objects.prefetch_related("tags").iterator(chunk_size=500)
        ]
    )


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_BACK if vendor == "postgresql" else SQLITE_BACK:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("channels_app", "0009_library")]

    operations = [migrations.RunPython(forward, backward)]
