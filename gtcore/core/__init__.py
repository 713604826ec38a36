"""Foundation every other package stands on: errors, settings, the database engine and schema, the acting user
and roles, the task-type catalogue, class colours, safe text, the GC pause helper.

Imports: the standard library and third-party packages only; nothing else of gtcore.
"""
