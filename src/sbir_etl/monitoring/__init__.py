"""Measuring runs and watching them over time.

- `performance`: wall, CPU and exact peak RSS of a block of code (used by the core and the plugin).
- `history`: the long-lived metrics store the pytest plugin writes and the reports read.
- `regression`: time, memory and match-rate gates of a test against its own history.
- `alerts`: Slack-compatible webhook messages for failed gates.
- `reporting`: trends, match rate and scores of a history, as Markdown, JSON or HTML.

Import the module you need; this package imports nothing heavy on its own.
"""
