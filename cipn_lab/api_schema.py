"""The OpenAPI schema generator of the REST API (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, with pages only where the API pages.

    A POST that registers several rows (animals, doses) answers with the rows it created, all of
    them, unpaged; without this, the schema would describe that answer as a page because the
    view pages its GET.
    """

    def _get_paginator(self):
        if self.method != "GET":
            return None
        return super()._get_paginator()
