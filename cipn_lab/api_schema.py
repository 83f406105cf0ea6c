"""The OpenAPI schema generator of the REST API (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, with pages and filters only where the API has them: on GET.

    A POST that registers several rows (animals, doses) answers with the rows it created, all of
    them, unpaged and unfiltered; without this, the schema would describe that answer as a page
    and list the GET's filters as query parameters of the POST, because the answer is a list.
    """

    def _get_paginator(self):
        if self.method != "GET":
            return None
        return super()._get_paginator()

    def get_filter_backends(self):
        if self.method != "GET":
            return []
        return super().get_filter_backends()


CODED_COMPONENTS = ("CodedGroup", "CodedSchedule")


def close_coded_components(result, generator, request, public):
    """Declare that what a technician of a blinded study gets carries nothing else.

    A ``Coded*`` row has a subset of the full row's fields; closed, a full row no longer also
    matches it, so a response validates against exactly one of the two (``oneOf``) and a
    generated client parses each row as the right one. Installed in
    ``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for name in CODED_COMPONENTS:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    return result
