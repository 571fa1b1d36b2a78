-- sources: sheets
-- Every row of one table of the `sheets` source, for an export (lib.actions.sheet_export).
-- $table is a name the action checked against the source's declared tables, quoted.
SELECT * FROM query_table(CAST($table AS VARCHAR))
