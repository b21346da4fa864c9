"""SQL LIKE as a lookup (`title__ilike="cars%"`): the pattern is passed verbatim as a parameter, `%`
and `_` are wildcards, a backslash escapes them, and the match ignores case on every backend."""

from __future__ import annotations

from django.db.models import CharField, Lookup, TextField


class ILike(Lookup):
    lookup_name = "ilike"

    def as_sql(self, compiler, connection):  # SQLite: LIKE is case-insensitive for ASCII
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs}::text ILIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


CharField.register_lookup(ILike)
TextField.register_lookup(ILike)
