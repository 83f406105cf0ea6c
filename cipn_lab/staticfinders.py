"""Serve plotly.js from the installed plotly package, so that pages never load it from a CDN.

The file is found at ``vendor/plotly.min.js``: ``runserver`` and the test server serve it through
this finder, and ``collectstatic`` copies it into ``STATIC_ROOT`` for WhiteNoise in production.
The version served is always the one the Python figures were built with.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.finders import BaseFinder
from django.contrib.staticfiles.utils import matches_patterns
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PREFIX = "vendor"
FILES = ("plotly.min.js",)
PACKAGE_DATA = Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(PACKAGE_DATA))
        # collectstatic puts the files under the storage's prefix.
        self.storage.prefix = PREFIX

    def check(self, **kwargs):
        missing = [name for name in FILES if not (PACKAGE_DATA / name).is_file()]
        if missing:
            return [
                Error(
                    f"The plotly package has no {', '.join(missing)} in {PACKAGE_DATA}.",
                    hint="Reinstall the plotly version pinned in requirements.txt.",
                    id="cipn_lab.E001",
                )
            ]
        return []

    def find(self, path, find_all=False, **kwargs):
        if kwargs:  # Django 5.2 still accepts the deprecated ``all`` argument.
            find_all = self._check_deprecated_find_param(find_all=find_all, **kwargs)
        matches = []
        for name in FILES:
            if path == f"{PREFIX}/{name}":
                absolute = str(PACKAGE_DATA / name)
                finders.searched_locations.append(str(PACKAGE_DATA))
                if not find_all:
                    return absolute
                matches.append(absolute)
        return matches

    def list(self, ignore_patterns):
        for name in FILES:
            if not matches_patterns(name, ignore_patterns or []):
                yield name, self.storage
