"""Reading and writing ``readings.csv`` and its ``.xlsx`` twin (interchange.md section 2).

Parsing only turns a file into rows (a :class:`ReadingsTable`, which serves them as dicts);
what the values mean is checked by ``behavior.services.readings_import``, so a CSV, a
spreadsheet and the API share one set of rules and messages. Each row dict carries ``_row``,
its number as a spreadsheet shows it (the header is row 1), so that a problem names the row
the user sees.
"""

from __future__ import annotations

import csv
import functools
import gc
import io
import re
from collections.abc import Sequence
from pathlib import Path

from behavior.models import Discrepancy, Entry
from studies.models import Study

COLUMNS = ["animal", "day", "assay", "footpad", "application", "value", "experimenter", "behavior"]
# Added by an export so that a round trip keeps what the import columns alone cannot say.
EXPORT_EXTRA_COLUMNS = [
    "state",
    "counted_value",
    "resolved_value",
    "resolved_behavior",
    "resolution_reason",
    "resolution_note",
]


# Spaces other than line breaks: outside quotes a line break only ends a row.
_SPACE = re.compile(r"[^\S\r\n]")
_ASCII_SPACES = " \t\x0b\x0c\x1c\x1d\x1e\x1f"


def _has_padding(text: str) -> bool:
    """Whether a cell of this CSV could have spaces to strip. Usually not, and then the cells
    are taken as they are: stripping them costs more than this look at the text."""
    if '"' in text:
        return True
    if text.isascii():  # searching for each character is quicker than a pattern
        return any(space in text for space in _ASCII_SPACES)
    return _SPACE.search(text) is not None


def _header_name(cell) -> str:
    return str(cell if cell is not None else "").strip().lower()


def cycle_collection_paused(function):
    """Run ``function`` with Python's cyclic garbage collector paused.

    Reading a file and importing it allocate hundreds of thousands of lists and tuples that
    outlive each step; as they pile up they set off full collections of the whole heap that
    find nothing to free, a tenth of a large import's time. Reference counting still frees
    whatever is dropped, and the collector resumes (if it was running) when ``function``
    returns or fails.
    """

    @functools.wraps(function)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused


class ReadingsTable(Sequence):
    """A readings file as it was read: the header's names, a column of cells under each (a
    short row's missing cells None), and each non-blank row's number.

    It is the sequence of row dicts that ``readings_import`` takes: ``table[i]`` is row i's
    dict, ``_row`` included and cells under a blank header left out (of two columns with one
    name, the second). The import reads the columns themselves and builds a row's dict only to
    name its problems, which spares it building tens of thousands of dicts.
    """

    def __init__(self, names: list[str], columns: list[Sequence], numbers: list[int]):
        self.names = names
        self.columns = columns
        self.numbers = numbers

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = {name: column[index] for name, column in zip(self.names, self.columns, strict=True)}
        row.pop("", None)
        row["_row"] = self.numbers[index]
        return row

    def __iter__(self):
        return (self[i] for i in range(len(self.numbers)))


@cycle_collection_paused
def _rows_from_table(table, *, text: bool = False, strip: bool = True) -> ReadingsTable:
    """The rows of an iterable of rows whose first row is the header; blank rows skipped
    (their numbers still count, as the spreadsheet shows them). A long row's extra cells have
    no column. ``text``: every cell is a string, stripped here unless ``strip`` is false (a
    CSV), rather than a spreadsheet value kept as it is."""
    iterator = iter(table)
    header = next(iterator, None)
    if header is None:
        return ReadingsTable([], [], [])
    names = [_header_name(cell) for cell in header]
    width = len(names)
    rows = []
    numbers = []
    for number, cells in enumerate(iterator, start=2):
        if text:
            if strip:
                cells = list(map(str.strip, cells))
            if not any(cells):
                continue
        elif all(cell is None or str(cell).strip() == "" for cell in cells):
            continue
        if len(cells) < width:
            cells = [*cells, *[None] * (width - len(cells))]
        rows.append(cells)
        numbers.append(number)
    # Columns rather than rows: a handful of objects for the garbage collector to look at
    # afterwards, where the rows were tens of thousands.
    columns = list(zip(*rows, strict=False))[:width] if rows else [()] * width
    return ReadingsTable(names, columns, numbers)


def parse_readings_csv(fileobj_or_text) -> ReadingsTable:
    """Rows of a readings CSV: ``str`` content, a ``Path``, or a text or binary file object.

    Values stay strings (stripped); a UTF-8 byte-order mark, as Excel writes it, is ignored.
    """
    if isinstance(fileobj_or_text, Path):
        text = fileobj_or_text.read_text(encoding="utf-8-sig")
    elif isinstance(fileobj_or_text, str):
        text = fileobj_or_text
    else:
        content = fileobj_or_text.read()
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    return _rows_from_table(reader, text=True, strip=_has_padding(text))


def parse_readings_xlsx(path_or_fileobj) -> ReadingsTable:
    """Rows of the first sheet of a readings workbook (a path or a binary file object).

    Cells keep their spreadsheet types (numbers stay numbers); the import accepts both.
    """
    from openpyxl import load_workbook  # only the spreadsheet path pays for the import

    workbook = load_workbook(path_or_fileobj, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return _rows_from_table(sheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def parse_readings_file(path: str | Path) -> ReadingsTable:
    """Rows of a ``.csv`` or ``.xlsx`` readings file, chosen by its extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return parse_readings_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return parse_readings_xlsx(path)
    raise ValueError(f"{path.name}: a readings file must be .csv or .xlsx, not {suffix or 'none'}")


def readings_rows(*, study: Study) -> list[dict]:
    """Every entry of the study as a readings row, in a stable order, for an export.

    The section 2 columns come first; ``state`` and ``counted_value`` say what the reading
    counts, and the ``resolved_*``/``resolution_*`` columns carry a resolved discrepancy so that
    a round trip keeps it. Values are the stored floats, unrounded. Two queries.
    """
    resolutions = {
        reading_id: (value, behavior, reason, note)
        for reading_id, value, behavior, reason, note in Discrepancy.objects.filter(
            reading__session__study=study, status=Discrepancy.Status.RESOLVED
        )
        .order_by("resolved_at", "pk")
        .values_list("reading_id", "resolved_value", "resolved_behavior", "reason", "note")
    }
    rows = []
    for (
        reading_id,
        animal,
        day,
        assay,
        footpad,
        application,
        value,
        experimenter,
        behavior,
        state,
        counted,
    ) in (
        Entry.objects.filter(reading__session__study=study)
        .order_by(
            "reading__session__timepoint__day",
            "reading__assay",
            "reading__animal__code",
            "reading__footpad",
            "reading__application",
            "experimenter",
        )
        .values_list(
            "reading_id",
            "reading__animal__code",
            "reading__session__timepoint__day",
            "reading__assay",
            "reading__footpad",
            "reading__application",
            "value",
            "experimenter",
            "behavior",
            "reading__state",
            "reading__value",
        )
    ):
        resolved = resolutions.get(reading_id)
        rows.append(
            {
                "animal": animal,
                "day": day,
                "assay": assay,
                "footpad": footpad,
                "application": application,
                "value": value,
                "experimenter": experimenter,
                "behavior": behavior,
                "state": state,
                "counted_value": counted,
                "resolved_value": resolved[0] if resolved else None,
                "resolved_behavior": resolved[1] if resolved else "",
                "resolution_reason": resolved[2] if resolved else "",
                "resolution_note": resolved[3] if resolved else "",
            }
        )
    return rows


def write_readings_csv(rows: list[dict], fileobj) -> None:
    """Write readings rows as CSV (section 2 columns, then any export columns present)."""
    extra = [name for name in EXPORT_EXTRA_COLUMNS if rows and name in rows[0]]
    writer = csv.DictWriter(fileobj, fieldnames=COLUMNS + extra, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
