"""Honest figures for the enrichment core on real public data, from one run.

    .venv/bin/python benchmarks/real_data.py [--data ../shared/data/real] [--markdown out/real-data.md]

1. Same-UEI spelling test (precision/recall on real names). FPDS Phase III transactions grouped
   by UEI form the recipient table (one row per UEI, its most frequent spelling, no alternate
   names). Every other distinct spelling of a multi-spelling UEI becomes an award with no UEI/DUNS
   whose true recipient is that UEI (`sbir_etl.evaluation.real_data.spelling_holdout`). Evaluated with the
   award's city/state, and again with them blanked (name-only evidence); recall per kind of
   difference (`difference_kind`).
2. More linkages with truth from the same files: legacy FPDS vendor names (with ZIP), FPDS
   `dba_name`s, and SBIR.gov's own spellings of one DUNS.
3. SBIR.gov awards vs FPDS recipients (match rate on real data). All SBIR.gov awards against one
   recipient per UEI with the other spellings as alternate_names. No ground truth beyond (a) the
   normalised names both files share and (b) the DUNS -> UEI links legacy FPDS descriptions carry.
4. Each matching rule switched off on its own (`sbir_etl.linkage.rules`): what it buys and costs
   on the tests with truth.
5. Wall time of each enrichment run (index build + matching, in memory via `enrich_frame`).

The real data is read-only and never committed; `--data` defaults to `../shared/data/real`
relative to the repository root. Exit 0 on success, 2 when an input file is missing.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sbir_etl.enrichment import enrich_frame
from sbir_etl.evaluation.quality import evaluate_against_truth, match_metrics
from sbir_etl.evaluation.real_data import (
    AWARD_KEY,
    DIFFERENCE_KINDS,
    RENAME,
    dba_holdout,
    duns_spelling_holdout,
    fpds_recipients,
    holdout_outcomes,
    legacy_duns_links,
    legacy_name_holdout,
    overlap_outcomes,
    spelling_holdout,
    uei_recipient_hash,
    without_location,
)
from sbir_etl.linkage.names import normalize_names
from sbir_etl.linkage.rules import RULES, rules_disabled

REPO = Path(__file__).resolve().parents[1]
FPDS_FILE = "fpds_sbir_sttr_phase3_transactions.csv"
SBIR_FILE = "sbirgov_dod_awards_2017_2019_rovertm.csv"
SBIR_COLUMNS = ["Company", "DUNS", "Agency Tracking Number", "Contract", "City", "State", "Zip"]
KIND_ORDER = [kind for kind, _ in DIFFERENCE_KINDS] + [RENAME]
NAME_METHODS = ("name-exact", "name-fuzzy-auto")


def _read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass --data DIR holding {FPDS_FILE} and {SBIR_FILE}")
    return pd.read_csv(path, dtype=str, keep_default_na=False, usecols=columns)


def _timed(awards: pd.DataFrame, recipients: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    enriched = enrich_frame(awards, recipients)
    return enriched, time.perf_counter() - started


def _pct(x: float) -> str:
    return f"{x:.3f}"


def _table(frame: pd.DataFrame) -> list[str]:
    """A markdown table (no tabulate dependency)."""
    cells = frame.astype(str).map(lambda v: v.replace("|", "\\|"))
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return lines + [""]


def _kinds_table(outcomes_by_run: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Held out and recall per kind of difference, one recall column per run."""
    first = next(iter(outcomes_by_run.values()))
    table = first.groupby("kind").size().rename("held out").to_frame()
    for label, outcomes in outcomes_by_run.items():
        correct = outcomes.assign(ok=outcomes["outcome"] == "correct").groupby("kind")["ok"].sum()
        wrong = outcomes.assign(bad=outcomes["outcome"] == "wrong-join").groupby("kind")["bad"].sum()
        table[f"joined correctly ({label})"] = correct.astype(int)
        table[f"recall ({label})"] = (correct / table["held out"]).map(_pct)
        table[f"wrong joins ({label})"] = wrong.astype(int)
    order = [k for k in KIND_ORDER if k in table.index]
    return table.loc[order].reset_index()


def _truth_run(awards: pd.DataFrame, recipients: pd.DataFrame, truth: pd.DataFrame) -> tuple[dict, pd.DataFrame, float]:
    enriched, wall = _timed(awards, recipients)
    return evaluate_against_truth(enriched, truth, list(AWARD_KEY)), holdout_outcomes(enriched, truth, recipients), wall


def _namesake_joins(outcomes: pd.DataFrame) -> int:
    """Wrong joins (by the identifier truth) to a recipient whose own legal name the award carries
    (normalised): the identifier and the name point at two registrants, a truth in dispute."""
    wrong = outcomes[outcomes["outcome"] == "wrong-join"]
    if wrong.empty:
        return 0
    award = normalize_names(wrong["award_name"].astype(str)).to_pylist()
    matched = normalize_names(wrong["matched_name"].astype(str)).to_pylist()
    # A cut name counts too: "applied hydro acoustics resear" is the head of "... research".
    return sum(a is not None and m is not None and (a.startswith(m) or m.startswith(a)) for a, m in zip(award, matched))


def _linkage_section(fpds: pd.DataFrame, sbir: pd.DataFrame) -> tuple[list[str], dict[str, float]]:
    tests = {
        "legacy FPDS vendor names (city, state, ZIP)": legacy_name_holdout(fpds),
        "FPDS dba_name (city, state)": dba_holdout(fpds),
        "SBIR.gov spellings of one DUNS (city, state, ZIP)": duns_spelling_holdout(sbir),
    }
    out = [
        "## 2. More linkages with truth from the same files",
        "",
        "Each is an award file without identifiers whose true recipient is known from an identifier "
        "on the same record (`legacy_name_holdout`, `dba_holdout`, `duns_spelling_holdout`).",
        "",
    ]
    rows, times, kinds = [], {}, []
    for label, (awards, recipients, truth) in tests.items():
        ev, outcomes, wall = _truth_run(awards, recipients, truth)
        times[label] = wall
        counts = outcomes["outcome"].value_counts()
        rows.append(
            {
                "test": label,
                "awards": len(awards),
                "recipients": len(recipients),
                "precision": _pct(ev["precision"]),
                "recall": _pct(ev["recall"]),
                "wrong joins": int(counts.get("wrong-join", 0)),
                "of which to a recipient of that very name": _namesake_joins(outcomes),
                "candidates (at truth)": f"{ev['candidates']} ({int(counts.get('candidate-right', 0))})",
                "unmatched": int(counts.get("unmatched", 0)),
            }
        )
        kinds.append(_kinds_table({label: outcomes}).assign(test=label))
        wrong = outcomes[outcomes["outcome"] == "wrong-join"]
        if len(wrong):
            kinds.append(wrong.assign(test=f"WRONG JOIN: {label}"))
    out += _table(pd.DataFrame(rows))
    out += ["Recall per kind of difference:", ""]
    for frame in kinds:
        label = frame["test"].iloc[0]
        out += [f"*{label}*", ""] + _table(frame.drop(columns="test"))
    return out, times


def _ablation_section(fpds: pd.DataFrame, sbir: pd.DataFrame) -> list[str]:
    """Each rule switched off: precision, recall and wrong joins on every test with truth."""
    spelling = spelling_holdout(fpds)
    tests = {
        "same-UEI, city/state": spelling,
        "same-UEI, name only": (without_location(spelling[0]), *spelling[1:]),
        "legacy vendor names": legacy_name_holdout(fpds),
        "FPDS dba names": dba_holdout(fpds),
        "SBIR.gov same-DUNS": duns_spelling_holdout(sbir),
    }
    rows = []
    for rule in ("", *RULES):
        row = {"rule switched off": rule or "(none: all rules on)"}
        with rules_disabled(*([rule] if rule else [])):
            for label, (awards, recipients, truth) in tests.items():
                ev, outcomes, _ = _truth_run(awards, recipients, truth)
                wrong = int((outcomes["outcome"] == "wrong-join").sum())
                row[label] = f"{_pct(ev['precision'])} / {_pct(ev['recall'])} / {wrong}"
        rows.append(row)
    return [
        "## 4. What each rule buys and costs on real names",
        "",
        "Each rule of `sbir_etl.linkage.rules` switched off on its own; cells are precision / recall / wrong joins. "
        "A rule is kept only if switching it off costs recall and switching it on costs no precision.",
        "",
        *_table(pd.DataFrame(rows)),
    ]


def _holdout_section(fpds: pd.DataFrame, examples: int) -> tuple[list[str], dict[str, float]]:
    awards, recipients, truth = spelling_holdout(fpds)
    multi = awards["Agency Tracking Number"].nunique()
    out = [
        "## 1. Same-UEI spelling test (real names, real ground truth)",
        "",
        f"{len(recipients):,} recipients (one per FPDS UEI, most frequent spelling, no alternate names); "
        f"{len(awards):,} held-out spellings of {multi} multi-spelling UEIs as awards without UEI/DUNS.",
        "",
    ]
    rows, outcomes_by_run, times = [], {}, {}
    for label, run_awards in (("with city/state", awards), ("name only (location blanked)", without_location(awards))):
        enriched, wall = _timed(run_awards, recipients)
        times[f"holdout, {label}"] = wall
        ev = evaluate_against_truth(enriched, truth, list(AWARD_KEY))
        outcomes = holdout_outcomes(enriched, truth, recipients)
        outcomes_by_run[label] = outcomes
        counts = outcomes["outcome"].value_counts()
        rows.append(
            {
                "run": label,
                "precision": _pct(ev["precision"]),
                "recall": _pct(ev["recall"]),
                "false-join rate": _pct(ev["false_join_rate"]),
                "name-exact (correct/joined)": f"{ev['by_method']['name-exact']['correct']}/{ev['by_method']['name-exact']['joined']}",
                "fuzzy-auto (correct/joined)": f"{ev['by_method']['name-fuzzy-auto']['correct']}/{ev['by_method']['name-fuzzy-auto']['joined']}",
                "candidates (at truth)": f"{ev['candidates']} ({int(counts.get('candidate-right', 0))})",
                "unmatched": int(counts.get("unmatched", 0)),
                "wall s": f"{wall:.2f}",
            }
        )
    out += _table(pd.DataFrame(rows))

    base = outcomes_by_run["with city/state"]
    kinds = pd.Series("different name, no shared word (rename/acquisition?)", index=base.index)
    kinds[base["shares_word"]] = "different normalised name, shares a word"
    kinds[base["same_normalised"]] = "same normalised name"
    breakdown = base.assign(kind=kinds).groupby(["kind", "outcome"]).size().unstack(fill_value=0)
    breakdown.insert(0, "held out", breakdown.sum(axis=1))
    breakdown["recall"] = (breakdown.get("correct", 0) / breakdown["held out"]).map(_pct)
    out += ["By kind of spelling difference, split by the matcher's normaliser (run with city/state):", ""]
    out += _table(breakdown.reset_index())
    out += [
        "By kind of difference (`difference_kind`: a fixed plain normal form, not the matcher's; the first kind that holds):",
        "",
    ]
    out += _table(_kinds_table(outcomes_by_run))

    name_only = outcomes_by_run["name only (location blanked)"]
    changed = base["outcome"] != name_only["outcome"]
    if changed.any():
        diff = base.loc[changed, ["award_name", "award_state", "true_name", "true_state"]].assign(
            with_location=base.loc[changed, "outcome"],
            name_only=name_only.loc[changed, "outcome"],
            name_only_matched=name_only.loc[changed, "matched_name"],
        )
        out += ["What location changes (awards whose outcome differs between the two runs):", ""]
        out += _table(diff)

    cols = [
        "award_name",
        "award_state",
        "true_name",
        "true_state",
        "kind",
        "method",
        "score",
        "reason",
        "outcome",
        "matched_name",
    ]
    for label, outcomes in outcomes_by_run.items():
        wrong = outcomes[outcomes["outcome"] == "wrong-join"]
        out += [f"Wrong joins ({label}): {len(wrong)}", ""]
        if len(wrong):
            out += _table(wrong[cols])
    misses = base[base["outcome"] != "correct"].sort_values(["outcome", "score"], ascending=[True, False])
    out += [
        f"Misses (with city/state): {len(misses)}; the first {min(examples, len(misses))} by outcome and score:",
        "",
    ]
    out += _table(
        misses[cols].head(examples).assign(score=lambda f: f["score"].map(lambda s: "" if pd.isna(s) else f"{s:.1f}"))
    )
    return out, times


def _sbir_section(fpds: pd.DataFrame, sbir: pd.DataFrame, examples: int) -> tuple[list[str], dict[str, float]]:
    recipients = fpds_recipients(fpds, with_alternates=True)
    enriched, wall = _timed(sbir, recipients)
    metrics = match_metrics(enriched)
    counts = metrics["counts_by_method"]
    out = [
        "## 3. SBIR.gov awards vs FPDS recipients (match rate, no full ground truth)",
        "",
        f"{len(sbir):,} SBIR.gov DoD awards (DUNS, no UEI) against {len(recipients):,} FPDS recipients "
        "(one per UEI, other spellings as alternate_names; recipients carry no DUNS, so every join is by name). "
        "Most SBIR.gov companies never had a Phase III contract, so most awards *should* stay unjoined: "
        "the match rate measures coverage of this recipient table, not recall.",
        "",
    ]
    out += _table(
        pd.DataFrame(
            [
                {
                    **counts,
                    "match rate": _pct(metrics["match_rate"]),
                    "candidate rate": _pct(metrics["candidate_rate"]),
                    "wall s": f"{wall:.2f}",
                }
            ]
        )
    )

    overlap = overlap_outcomes(enriched, recipients)
    per_name = overlap.groupby("norm").agg(
        consistent=("consistent", "any"), ambiguous=("owners", lambda o: bool((o > 1).any()))
    )
    not_joined = overlap[~overlap["consistent"]].drop_duplicates("norm")
    out += [
        f"Names both files share (normalised): {len(per_name)} names on {len(overlap):,} awards. "
        f"{int(per_name['consistent'].sum())} names have an award joined to a recipient carrying that name; "
        f"{int(overlap['consistent'].sum()):,} of the {len(overlap):,} awards are ({_pct(overlap['consistent'].mean())}). "
        f"Not joined: {len(overlap) - int(overlap['consistent'].sum())} awards "
        f"({', '.join(f'{m} {n}' for m, n in overlap.loc[~overlap['consistent'], 'method'].value_counts().items())}); "
        f"names carried by several UEIs: {int(per_name['ambiguous'].sum())}.",
        "",
    ]
    if len(not_joined):
        out += ["Shared names left unjoined (one award each):", ""]
        out += _table(
            not_joined.merge(enriched[["Company", "State"]], left_index=True, right_index=True)[
                ["Company", "State", "norm", "owners", "method"]
            ]
        )

    # Identifier truth: DUNS that legacy FPDS descriptions link to exactly one UEI.
    links = legacy_duns_links(fpds)
    linked = enriched[sbir["DUNS"].str.strip().isin(links.index)].reset_index(drop=True)
    linked["_row"] = range(len(linked))
    truth = pd.DataFrame(
        {"_row": linked["_row"], "recipient_hash": linked["DUNS"].str.strip().map(links).map(uei_recipient_hash)}
    )
    out += [
        f"DUNS-linked subset: {len(linked)} awards ({linked['DUNS'].nunique()} DUNS) whose DUNS a legacy FPDS "
        "description links to exactly one UEI - an identifier truth independent of names (the matcher never sees the link):",
        "",
    ]
    if len(linked):
        ev = evaluate_against_truth(linked, truth, ["_row"])
        got = linked["usaspending_recipient_hash"].astype("string").fillna("")
        wrong = linked[linked["match_method"].isin(NAME_METHODS) & (got != truth["recipient_hash"])]
        out += _table(
            pd.DataFrame(
                [
                    {
                        "precision": _pct(ev["precision"]),
                        "recall": _pct(ev["recall"]),
                        "false-join rate": _pct(ev["false_join_rate"]),
                        **{
                            m: int((linked["match_method"] == m).sum())
                            for m in ("name-exact", "name-fuzzy-auto", "name-fuzzy-candidate", "unmatched")
                        },
                        "candidate precision": _pct(ev["candidate_precision"]),
                    }
                ]
            )
        )
        if len(wrong):
            true_name = truth.loc[wrong.index, "recipient_hash"].map(
                recipients.set_index("recipient_hash")["legal_business_name"]
            )
            out += ["Wrong joins in the DUNS-linked subset (distinct names):", ""]
            out += _table(
                wrong.assign(true_name=true_name)[
                    ["Company", "State", "usaspending_legal_business_name", "true_name", "match_method"]
                ].drop_duplicates("Company")
            )

    fuzzy = enriched[enriched["match_method"] == "name-fuzzy-auto"].drop_duplicates("Company")
    out += [f"Fuzzy auto-joins (all {len(fuzzy)} distinct names; no truth - judge by eye):", ""]
    out += _table(fuzzy[["Company", "State", "usaspending_legal_business_name", "match_score", "match_confidence"]])
    cands = enriched[enriched["match_method"] == "name-fuzzy-candidate"].drop_duplicates("Company")
    cand_name = cands["candidate_recipient_hash"].map(recipients.set_index("recipient_hash")["legal_business_name"])
    out += [
        f"Candidates, highest scores first ({len(cands)} distinct names; the first {min(examples, len(cands))}):",
        "",
    ]
    out += _table(
        cands.assign(candidate=cand_name)[["Company", "State", "candidate", "match_score"]]
        .sort_values("match_score", ascending=False)
        .head(examples)
    )
    return out, {"SBIR.gov vs FPDS": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared" / "data" / "real",
        help="directory holding the real FPDS and SBIR.gov files (default: ../shared/data/real from the repo root)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the report to this markdown file")
    parser.add_argument("--examples", type=int, default=15, help="example rows per list (default 15)")
    args = parser.parse_args(argv)
    try:
        fpds = _read(args.data / FPDS_FILE)
        sbir = _read(args.data / SBIR_FILE, SBIR_COLUMNS)
    except (FileNotFoundError, ValueError) as error:
        print(f"real_data.py: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    lines = [
        "# Enrichment core on real data",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.machine()}, "
        f"Python {platform.python_version()}); data: {args.data} ({len(fpds):,} FPDS rows, {len(sbir):,} SBIR.gov awards). "
        "Default EnrichmentConfig.",
        "",
    ]
    section, times = _holdout_section(fpds, args.examples)
    lines += section
    section, more = _linkage_section(fpds, sbir)
    lines += section
    times.update(more)
    section, more = _sbir_section(fpds, sbir, args.examples)
    lines += section
    times.update(more)
    lines += _ablation_section(fpds, sbir)
    lines += ["## 5. Wall time (enrich_frame: index build + matching, in memory)", ""]
    lines += _table(pd.DataFrame([{"run": k, "wall s": f"{v:.3f}"} for k, v in times.items()]))
    lines += [f"Whole script (reading, building, evaluating, reporting): {time.perf_counter() - started:.1f} s.", ""]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
