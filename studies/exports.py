"""A study's export package (interchange.md section 4): ``study.json``, ``readings.csv``, an Excel
workbook and a GraphPad Prism file.

- ``study.json`` and ``readings.csv`` come from ``studies.interchange.study_export_json`` and
  ``behavior.readings_io.readings_rows``: they import back into an identical study.
- ``SLUG.xlsx``: sheets *design*, *raw readings*, *per-animal values* and *statistics*.
- ``SLUG.pzfx``: one grouped table per assay: a row per timepoint, a column per group titled
  with its code, a subcolumn per animal holding the animal's value as the statistics use it.

Per-animal values and statistics come from ``behavior.analysis`` with the default options (the
seed paper's: Student's t-test, raw values, both footpads, verified values only), so the files
hold exactly what the dashboard and ``study_stats`` show. Every group is named by its code: an
export reveals the allocation, so the download views refuse it to technicians
(``studies.views_exports``).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font

from behavior import analysis
from behavior.forms_dashboard import StatsOptions
from behavior.readings_io import readings_rows, write_readings_csv
from studies.interchange import study_export_json
from studies.models import Study

PZFX_SUBCOLUMN_WIDTH = 81


@dataclass
class AssayExport:
    """One assay's per-animal values and statistics, as the statistics compute them."""

    assay: str
    unit: str
    values: pd.DataFrame  # animal, group, timepoint, day, value
    document: dict  # the interchange.md section 3 document


def assay_exports(*, study: Study) -> list[AssayExport]:
    """Per assay of the study: each animal's value per timepoint and the statistics document.

    Four queries for the design and one ``values_list`` query per assay: the same frame as
    ``study_stats_document`` reads, so that the numbers are the statistics' own.
    """
    design = analysis.study_design(study=study)
    exports = []
    for assay in sorted(design.assays):
        result = analysis.assay_statistics(
            design=design,
            frame=analysis.readings_frame(study=study, assay=assay),
            assay=assay,
            options=StatsOptions(),
        )
        exports.append(
            AssayExport(
                assay=assay,
                unit=result.unit,
                values=result.values.loc[:, ["animal", "group", "timepoint", "day", "value"]],
                document=analysis.stats_document_from(design=design, result=result),
            )
        )
    return exports


# ---------------------------------------------------------------------------------------------
# study.json and readings.csv


def study_json_bytes(*, study: Study) -> bytes:
    return (
        json.dumps(study_export_json(study=study), indent=2, ensure_ascii=False) + "\n"
    ).encode()


def readings_csv_bytes(*, study: Study) -> bytes:
    buffer = io.StringIO(newline="")
    write_readings_csv(readings_rows(study=study), buffer)
    return buffer.getvalue().encode()


# ---------------------------------------------------------------------------------------------
# The Excel workbook


def _sheet(workbook: Workbook, title: str, header: list[str], rows) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append(["" if value is None else value for value in row])


def _design_rows(data: dict) -> list[list]:
    """The study.json content as rows a person reads: one block per part of the design."""
    rows: list[list] = [["study", key, _cell(data[key])] for key in data if not _is_part(data[key])]
    for name, settings in data.get("assays", {}).items():
        rows += [["assay", name, key, _cell(value)] for key, value in settings.items()]
    for part in ("groups", "dosing", "timepoints", "comparisons", "animals"):
        items = data.get(part, [])
        if items:
            keys = list(dict.fromkeys(key for item in items for key in item))
            rows.append([part, *keys])
            rows += [[part, *(_cell(item.get(key)) for key in keys)] for item in items]
    return rows


def _is_part(value) -> bool:
    return isinstance(value, dict | list)


def _cell(value):
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def workbook_bytes(*, study: Study, exports: list[AssayExport] | None = None) -> bytes:
    """The study's workbook: design, raw readings, per-animal values, statistics."""
    exports = assay_exports(study=study) if exports is None else exports
    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(
        workbook, "design", ["part", "field", "value"], _design_rows(study_export_json(study=study))
    )

    rows = readings_rows(study=study)
    header = list(rows[0]) if rows else ["animal", "day", "assay", "footpad", "application"]
    _sheet(workbook, "raw readings", header, ([row.get(k) for k in header] for row in rows))

    _sheet(
        workbook,
        "per-animal values",
        ["assay", "unit", "animal", "group", "timepoint", "day", "value"],
        (
            [e.assay, e.unit, r.animal, r.group, r.timepoint, int(r.day), float(r.value)]
            for e in exports
            for r in e.values.itertuples(index=False)
        ),
    )

    summary_keys = ["group", "timepoint", "day", "n", "mean", "sd", "sem"]
    comparison_keys = [
        "reference",
        "group",
        "timepoint",
        "day",
        "test",
        "statistic",
        "df",
        "p",
        "marker",
    ]
    stats_rows: list[list] = []
    for e in exports:
        stats_rows.append([e.assay, "summary", *summary_keys])
        stats_rows += [
            [e.assay, "summary", *(row.get(k) for k in summary_keys)]
            for row in e.document["summary"]
        ]
        stats_rows.append([e.assay, "comparison", *comparison_keys])
        stats_rows += [
            [e.assay, "comparison", *(row.get(k) for k in comparison_keys)]
            for row in e.document["comparisons"]
        ]
        for row in e.document["excluded"]:
            stats_rows.append(
                [e.assay, "excluded", row["animal"], row["day"], row["footpad"], row["reason"]]
            )
    _sheet(workbook, "statistics", ["assay", "part"], stats_rows)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# GraphPad Prism


def _pzfx_table(table_id: str, title: str, values: pd.DataFrame, groups, timepoints) -> str:
    """One grouped (two-way) Prism table: rows are timepoints, columns groups, subcolumns
    animals. An animal without a value at a timepoint leaves its cell empty."""
    by_group: dict[str, list[str]] = {
        group: sorted(values.loc[values["group"] == group, "animal"].unique()) for group in groups
    }
    replicates = max((len(animals) for animals in by_group.values()), default=0) or 1
    cell = {
        (r.animal, int(r.day)): float(r.value)
        for r in values.itertuples(index=False)
        if not math.isnan(r.value)
    }
    lines = [
        f'<Table ID="{table_id}" XFormat="none" YFormat="replicates" '
        f'Replicates="{replicates}" TableType="TwoWay" EVFormat="AsteriskAfterNumber">',
        f"<Title>{escape(title)}</Title>",
        '<RowTitlesColumn Width="120"><Subcolumn>',
        *(f"<d>{escape(label)} (day {day})</d>" for label, day in timepoints),
        "</Subcolumn></RowTitlesColumn>",
    ]
    for group in groups:
        animals = by_group[group]
        lines.append(
            f'<YColumn Width="{PZFX_SUBCOLUMN_WIDTH * replicates}" Decimals="2" '
            f'Subcolumns="{replicates}">'
        )
        lines.append(f"<Title>{escape(group)}</Title>")
        for index in range(replicates):
            animal = animals[index] if index < len(animals) else None
            lines.append("<Subcolumn>")
            for _label, day in timepoints:
                value = cell.get((animal, day)) if animal else None
                # repr: the shortest text that reads back as the same float
                lines.append(f"<d>{value!r}</d>" if value is not None else "<d/>")
            lines.append("</Subcolumn>")
        lines.append("</YColumn>")
    lines.append("</Table>")
    return "\n".join(lines)


def _table_ref(index: int) -> str:
    selected = ' Selected="1"' if index == 0 else ""
    return f'<Ref ID="Table{index}"{selected}/>'


def pzfx_bytes(*, study: Study, exports: list[AssayExport] | None = None) -> bytes:
    """The study's Prism file: one grouped table per assay, titled ``assay (unit)``.

    Written without the XML namespace, as Prism 6 writes its files and every later Prism
    reads them. The project notes list, per group, which animal each subcolumn holds.
    """
    exports = assay_exports(study=study) if exports is None else exports
    design = analysis.study_design(study=study)
    groups = [g.code for g in design.groups]
    timepoints = design.timepoints
    now = timezone.now().replace(microsecond=0).isoformat()
    tables = []
    notes = [f"{study.title} ({study.slug}). Each animal's value as the statistics use it."]
    for index, export in enumerate(exports):
        tables.append(
            _pzfx_table(
                f"Table{index}",
                f"{export.assay} ({export.unit})",
                export.values,
                groups,
                timepoints,
            )
        )
        for group in groups:
            animals = sorted(export.values.loc[export.values["group"] == group, "animal"].unique())
            notes.append(f"{export.assay}, {group}: {', '.join(animals) or 'no animals'}")
    document = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<GraphPadPrismFile PrismXMLVersion="5.00">',
            "<Created>",
            f'<OriginalVersion CreatedByProgram="CIPN lab" CreatedByVersion="1.0" '
            f'DateTime="{now}"/>',
            "</Created>",
            '<InfoSequence><Ref ID="Info0" Selected="1"/></InfoSequence>',
            '<Info ID="Info0">',
            "<Title>Project info 1</Title>",
            "<Notes><Font>" + "<BR/>".join(escape(n) for n in notes) + "</Font></Notes>",
            f"<Constant><Name>Study</Name><Value>{escape(study.slug)}</Value></Constant>",
            "</Info>",
            "<TableSequence>",
            *(_table_ref(i) for i in range(len(tables))),
            "</TableSequence>",
            *tables,
            "</GraphPadPrismFile>",
            "",
        ]
    )
    return document.encode("utf-8")


# ---------------------------------------------------------------------------------------------
# The whole package


def export_filenames(study: Study) -> dict[str, str]:
    return {
        "study": "study.json",
        "readings": "readings.csv",
        "xlsx": f"{study.slug}.xlsx",
        "pzfx": f"{study.slug}.pzfx",
    }


def study_export_files(*, study: Study, directory: Path) -> list[Path]:
    """Write the study's four export files into ``directory`` (made if missing); returns them.

    Each file is written whole to a temporary name and then renamed, so that an interrupted
    export never leaves a half-written file under the final name.
    """
    directory.mkdir(parents=True, exist_ok=True)
    exports = assay_exports(study=study)
    names = export_filenames(study)
    contents = {
        names["study"]: study_json_bytes(study=study),
        names["readings"]: readings_csv_bytes(study=study),
        names["xlsx"]: workbook_bytes(study=study, exports=exports),
        names["pzfx"]: pzfx_bytes(study=study, exports=exports),
    }
    written = []
    for name, content in contents.items():
        final = directory / name
        partial = directory / f".{name}.partial"
        partial.write_bytes(content)
        partial.replace(final)
        written.append(final)
    return written


__all__ = [
    "AssayExport",
    "assay_exports",
    "export_filenames",
    "pzfx_bytes",
    "readings_csv_bytes",
    "study_export_files",
    "study_json_bytes",
    "workbook_bytes",
]
