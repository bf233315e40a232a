"""Measuring runs and watching them over time.

- `performance`: wall, CPU and exact peak RSS of a block of code (used by the core and the plugin).
- `history`: the long-lived metrics store the pytest plugin writes and the reports read; where it
  lives is a path or URL (`history_url`), in SQLite (`history_sqlite`) or PostgreSQL
  (`history_postgres`), behind one interface (`history_backend`).
- `regression`: time, memory and match-rate gates of a test against its own history.
- `alerts`: Slack-compatible webhook messages for failed gates.
- `trends`: trend verdicts from a one-sided Mann–Whitney U test over each test's latest runs.
- `reporting`: what a history says (latest results, quality gates, trends, series), as Markdown
  (`report_markdown`), JSON or one offline HTML page (`report_html`, `report_charts`, `report_page/`);
  `report_scores` is the score distribution by method that the page and Dagster both show.

Import the module you need; this package imports nothing heavy on its own.
"""
