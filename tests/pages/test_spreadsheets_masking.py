"""A sheet with personal data in it: a column named like personal data (email, phone, name, ...)
is masked the same way in the Sheets preview and in the Export section, by one rule
(lib.access.masking.named_columns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.access.masking import mask
from lib.ui.spreadsheets_sheets import PREVIEW
from tests.pages.helpers import open_page

pytestmark = pytest.mark.pages

PAGE = "app_pages/spreadsheets.py"
CONTACTS = [
    ("Kim Minsu", "minsu.kim@example.com", 12000),
    ("Lee Jiwon", "jiwon.lee@example.org", 3400),
    ("Park Hana", "hana@example.net", 560),
]


@pytest.fixture
def contacts(demo_dir: Path) -> str:
    """A CSV sheet `contacts` (name, Email, spend_krw) declared the way Connect declares one."""
    path = demo_dir / "contacts.csv"
    lines = ["name,Email,spend_krw", *(f"{n},{e},{s}" for n, e, s in CONTACTS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (demo_dir / "sheets.d").mkdir(exist_ok=True)
    (demo_dir / "sheets.d" / "contacts.toml").write_text(
        f'file = "{path}"\ncolumns = {{ name = "text", Email = "text", spend_krw = "int" }}\n',
        encoding="utf-8",
    )
    return "contacts"


def test_a_sheet_with_an_email_column_is_masked_in_the_preview_and_the_export(app, contacts):
    at = open_page(app, PAGE, "analyst", section="sheets", sheet=contacts)
    assert f"{contacts} (CSV)" in [s.value for s in at.subheader]
    preview = at.dataframe[1].value
    assert len(preview) == len(CONTACTS)
    emails = [e for _, e, _ in CONTACTS]
    assert sorted(preview["Email"]) == sorted(mask("email", e) for e in emails)
    assert sorted(preview["name"]) == sorted(mask("name", n) for n, _, _ in CONTACTS)
    assert list(preview["spend_krw"]) == [s for *_, s in CONTACTS]  # not personal: as is
    # Sorted by the column, it still shows masked values only.
    at.selectbox(key=f"{PREVIEW}{contacts}_sort_by").set_value("Email").run()
    shown = at.dataframe[1].value
    assert not set(shown["Email"]) & set(emails)

    exported = open_page(app, PAGE, "analyst", section="export", what=f"sheets.{contacts}")
    frame = exported.dataframe[0].value
    assert sorted(frame["Email"]) == sorted(preview["Email"])
    assert sorted(frame["name"]) == sorted(preview["name"])
