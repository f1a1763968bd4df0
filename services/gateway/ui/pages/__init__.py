"""The page modules; each keeps its routes in ``routes`` (a RouteTableDef), added in this order
(a fixed path before a parameterised one that could match it)."""

from __future__ import annotations

from types import ModuleType

from . import admin, documents, lists, live, me, records, signin, tools, view360

MODULES: list[ModuleType] = [signin, me, admin, live, tools, view360, documents, lists, records]
