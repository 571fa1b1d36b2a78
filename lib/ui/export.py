"""The pages' name for lib.export (CSV and XLSX downloads with formulas neutralised): the
code lives there, outside the UI layer, so lib.reports can use it too. Plus `file_buttons`,
the report files' download buttons (built on the click).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from lib.export import (
    CSV_MIME,
    FORMULA_STARTS,
    PDF_MIME,
    XLSX_MIME,
    neutralise,
    safe_frame,
    to_csv,
    to_xlsx,
)

__all__ = [
    "CSV_MIME",
    "FORMULA_STARTS",
    "PDF_MIME",
    "XLSX_MIME",
    "file_buttons",
    "neutralise",
    "safe_frame",
    "to_csv",
    "to_xlsx",
]

# extension -> (mime type, button icon)
FILE_KINDS: dict[str, tuple[str, str]] = {
    "xlsx": (XLSX_MIME, ":material/table_view:"),
    "pdf": (PDF_MIME, ":material/picture_as_pdf:"),
}


def file_buttons(
    stem: str,
    builders: Mapping[str, Callable[[], bytes]],
    *,
    label: str,
    key: str,
    slots: Sequence[Any] | None = None,
    width: str = "content",
) -> None:
    """One download button per `builders` entry (extension -> what makes the file's bytes,
    called on the click only: an ordinary rerun builds no PDF). `label` and `key` are
    templates: "Download {EXT}", "report_{ext}". `slots`: one container per button (say
    st.columns(2)); the current one by default."""
    for i, (ext, build) in enumerate(builders.items()):
        mime, icon = FILE_KINDS[ext]
        (slots[i] if slots else st).download_button(
            label.format(EXT=ext.upper()),
            build,
            file_name=f"{stem}.{ext}",
            mime=mime,
            key=key.format(ext=ext),
            icon=icon,
            on_click="ignore",
            width=width,
        )
