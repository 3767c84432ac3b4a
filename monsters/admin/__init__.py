"""The staff side: the audit log's ModelAdmin, its overview page, the queries behind
them and the server-drawn chart. Importing this package registers the admin."""

from monsters.admin.generation import GenerationAdmin

__all__ = ["GenerationAdmin"]
