-- sources: sheets
-- Every row of one table of the `sheets` source, to import (lib.ui.spreadsheets_import).
-- $table is a declared table's name, quoted, as sheets."<name>"; $limit caps the rows read.
SELECT * FROM query_table(CAST($table AS VARCHAR))
LIMIT $limit
