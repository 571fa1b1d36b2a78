"""The pages' name for lib.export (CSV and XLSX downloads with formulas neutralised): the
code lives there, outside the UI layer, so lib.reports can use it too."""

from __future__ import annotations

from lib.export import CSV_MIME, FORMULA_STARTS, XLSX_MIME, neutralise, safe_frame, to_csv, to_xlsx

__all__ = [
    "CSV_MIME",
    "FORMULA_STARTS",
    "XLSX_MIME",
    "neutralise",
    "safe_frame",
    "to_csv",
    "to_xlsx",
]
