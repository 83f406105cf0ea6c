"""Downloads of a study's export files from the study page (interchange.md section 4).

Who may download: the study's PI, its viewers and staff. An export names every animal's group
and holds every experimenter's values, so technicians, who enter values blind (blinded studies,
blind double entry), are refused with 403 rather than given files with coded labels.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from studies import access, exports

EXPORT_ROLES = {access.PI, access.VIEWER}

# kind in the URL: (file name key, content type, writer)
KINDS = {
    "json": ("study", "application/json", exports.study_json_bytes),
    "csv": ("readings", "text/csv; charset=utf-8", exports.readings_csv_bytes),
    "xlsx": (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        exports.workbook_bytes,
    ),
    "pzfx": ("pzfx", "application/xml", exports.pzfx_bytes),
}


def may_export(role: str | None) -> bool:
    return role in EXPORT_ROLES


@login_required
@require_GET
def study_export(request, slug: str, kind: str):
    """One export file of the study, as an attachment."""
    if kind not in KINDS:
        raise Http404("No such export.")
    study, role = access.study_for(user=request.user, slug=slug, action=access.READ)
    if not may_export(role):
        raise PermissionDenied(
            "Exports name every animal's group and hold every experimenter's values: "
            "they are for the study's PI and viewers."
        )
    name_key, content_type, write = KINDS[kind]
    filename = exports.export_filenames(study)[name_key]
    response = HttpResponse(write(study=study), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
