"""Builders for small award and recipient tables used across the core tests."""

import pandas as pd

AWARD_COLUMNS = ["Company", "UEI", "Duns", "Agency Tracking Number", "Contract", "City", "State", "Zip"]
RECIPIENT_COLUMNS = [
    "recipient_hash",
    "legal_business_name",
    "uei",
    "duns",
    "city",
    "state",
    "zip5",
    "parent_uei",
    "alternate_names",
]


def awards(*rows: dict) -> pd.DataFrame:
    """Award rows with defaults for every column; keys are numbered in order."""
    filled = [
        {c: "" for c in AWARD_COLUMNS} | {"Agency Tracking Number": f"A{i}", "Contract": f"C{i}"} | row
        for i, row in enumerate(rows)
    ]
    return pd.DataFrame(filled, columns=AWARD_COLUMNS, dtype="string")


def recipients(*rows: dict) -> pd.DataFrame:
    filled = [{c: "" for c in RECIPIENT_COLUMNS} | row for row in rows]
    return pd.DataFrame(filled, columns=RECIPIENT_COLUMNS, dtype="string")
