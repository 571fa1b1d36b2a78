"""Reports: the dashboard as files people keep and send, and the sellers' monthly statements.

    from lib.reports import files, statement
    attachments = files.dashboard_files(data)           # [xlsx, pdf] of a DashboardData
    st_ = statement.load_statement(queries, principal, seller_id=1, month=date(2026, 10, 1))
    attachments = statement.statement_files(st_)        # [xlsx, pdf]

render (charts to PNG, filters and numbers in words), xlsx, pdf, files: the dashboard's
report; statement: one seller's month; config: the [reports] settings.
"""
