"""A read-only OGC SensorThings API 1.1 over the fleet's own tables (issue 16 §3).

`entities` maps the fleet onto the eight SensorThings entity types as SQL sources (no copy of the data);
`filter` turns an OData `$filter` into a SQLAlchemy expression (a parser, never eval); `query` reads the
query options, runs the query and shapes the JSON as the standard defines it. Only public nodes (members
of a group an admin opened) appear; battery readings never do.
"""
