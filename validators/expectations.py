"""The audit's expectation suite: what a finished corpus must satisfy, run by Great Expectations.

Three pandas assets in one ephemeral (offline, in-memory) GX context:

- ``rows``: every accepted and rejected row, without pixels: no nulls where the schema says
  non-nullable, unique sample ids and UIDs across the run, provenance equal to run.json's (so
  constant within the run), no PHI in report text, each row in the shard it names;
- ``accepted``: accepted rows and derived columns: every validator score within its threshold,
  the DICOM image and SR files exist under OUT, per-finding prevalence within the target's
  tolerance, row counts equal to run.json's;
- ``schema``: one row per shard and column, the type found vs the type ``parquet_schema`` declares.

Derived columns are computed vectorised (pyarrow / numpy); ``find_phi`` runs once per distinct
report text (a templated corpus repeats them heavily). Each expectation carries ``meta.medmint``
(check name, column, expected) and its GX result is turned into one line naming the fault
("sop_instance_uid: 1 duplicated value (2.25.1...) in 2 rows (samples s00-..., s00-...)").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from medmint.records import CHEXPERT_LABELS, label_slug, parquet_schema

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# Rows named in a failure line and kept per expectation in the GX results (partial lists).
SHOWN = 3
KEPT = 20
UNIQUE_COLUMNS = ("sample_id", "study_instance_uid", "series_instance_uid", "sop_instance_uid",
                  "sr_series_instance_uid", "sr_sop_instance_uid")
PROVENANCE = ("config_sha256", "checkpoint_sha256", "generator", "medmint_version", "created_at")
LIST_TYPES = ("list", "map")


@dataclass
class Check:
    """One expectation of the suite and how its GX result reads as one line."""

    asset: str
    name: str
    column: str | None
    expected: Any
    expectation: Any  # a great_expectations Expectation
    explain: Callable[[dict[str, Any]], tuple[Any, str]]  # GX result -> (observed, fault line)


@dataclass
class SuiteRun:
    """The suite's outcome: one dict per expectation (failing first) and GX's own results."""

    expectations: list[dict[str, Any]]
    gx_results: dict[str, Any]  # asset -> ExpectationSuiteValidationResult
    context: Any  # the ephemeral GX context (its stores hold the results, for Data Docs)

    @property
    def passed(self) -> bool:
        return all(e["passed"] for e in self.expectations)


# ----------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------


def _row_ids(result: dict[str, Any], key: str = "sample_id") -> list[str]:
    return [str(r.get(key)) for r in result.get("partial_unexpected_index_list") or []]


def _samples(result: dict[str, Any]) -> str:
    ids = _row_ids(result)
    n = int(result.get("unexpected_count") or len(ids))
    if not ids:
        return ""
    shown = ", ".join(ids[:SHOWN])
    more = f" and {n - SHOWN} more" if n > SHOWN else ""
    return f"sample{'s' if n > 1 else ''} {shown}{more}"


def _short(value: Any, width: int = 24) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score_columns(accepted: "pa.Table", names: list[str]) -> dict[str, np.ndarray]:
    """The ``scores`` map as one float column per validator (NaN where a row has no such score)."""
    import pyarrow as pa

    n = accepted.num_rows
    out = {name: np.full(n, np.nan) for name in names}
    if n == 0 or "scores" not in accepted.column_names:
        return out
    scores = accepted["scores"].combine_chunks()
    if not pa.types.is_map(scores.type):
        return out
    offsets = scores.offsets.to_numpy()
    offsets = offsets[scores.offset: scores.offset + n + 1]
    keys = scores.keys.to_numpy(zero_copy_only=False)[offsets[0]: offsets[-1]]
    values = scores.items.to_numpy(zero_copy_only=False)[offsets[0]: offsets[-1]].astype(np.float64)
    rows = np.repeat(np.arange(n), np.diff(offsets))
    for name in names:
        hit = keys == name
        out[name][rows[hit]] = values[hit]
    return out


@lru_cache(maxsize=65536)
def phi_kinds(text: str) -> str | None:
    """The PHI kinds ``find_phi`` sees in a report ("date, name"), or None when it is clean."""
    from medmint.anonymize.phi_text import find_phi

    kinds = sorted({hit.kind for hit in find_phi(text)})
    return ", ".join(kinds) or None


def missing_files(out: Path, paths: "pd.Series") -> "pd.Series":
    """The path where it names no file under OUT (or is empty / escapes OUT), else None."""
    root = os.path.abspath(out)
    found = []
    for rel in paths.tolist():
        if not isinstance(rel, str) or not rel:
            found.append("(none)")
            continue
        full = os.path.abspath(os.path.join(root, rel))
        inside = full.startswith(root + os.sep)
        found.append(None if inside and os.path.isfile(full) else rel)
    import pandas as pd

    return pd.Series(found, index=paths.index, dtype=object)


def to_frame(table: "pa.Table") -> "pd.DataFrame":
    """A pandas frame for GX: list/map columns become their length (null stays null), created_at
    becomes ISO text (so it compares with run.json's)."""
    import pandas as pd
    import pyarrow as pa

    cols = {}
    for name in table.column_names:
        col = table[name]
        if pa.types.is_list(col.type) or pa.types.is_map(col.type):
            col = _lengths(col)
        cols[name] = col
    frame = pa.table(cols).to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].map(lambda t: t.tz_convert("UTC").isoformat(), na_action="ignore")
    return frame


def _lengths(col: "pa.ChunkedArray") -> "pa.Array":
    """Entries per row of a list or map column (null where the row is null)."""
    import pyarrow as pa

    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    offsets = arr.offsets.to_numpy()  # already sliced to the array's own rows
    return pa.array(np.diff(offsets), mask=arr.is_null().to_numpy(zero_copy_only=False))


def _iso(value: str | None) -> str | None:
    import pandas as pd

    if value is None:
        return None
    return pd.Timestamp(value).tz_convert("UTC").isoformat()


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------


def _where(asset: str) -> str:
    return {"rows": "rows", "accepted": "accepted rows"}.get(asset, asset)


def not_null_check(gxe: Any, asset: str, column: str) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        n = int(r.get("unexpected_count") or 0)
        return n, f"{column}: {n} null{'s' if n != 1 else ''} in {_where(asset)} ({_samples(r)})"

    return Check(asset, f"not_null:{column}" if asset == "rows" else f"not_null:{asset}.{column}", column,
                 "no nulls", gxe.ExpectColumnValuesToNotBeNull(column=column), explain)


def unique_check(gxe: Any, column: str) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        counts = r.get("partial_unexpected_counts") or []
        rows = int(r.get("unexpected_count") or 0)
        values = ", ".join(_short(c["value"]) for c in counts[:SHOWN])
        n = len(counts) if len(counts) < KEPT else f"{len(counts)}+"
        return rows, (f"{column}: {n} duplicated value{'s' if len(counts) != 1 else ''} ({values}) in {rows} rows "
                      f"({_samples(r)})")

    return Check("rows", f"unique:{column}", column, "unique across accepted and rejected rows",
                 gxe.ExpectColumnValuesToBeUnique(column=column), explain)


def provenance_check(gxe: Any, column: str, want: Any) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        n = int(r.get("unexpected_count") or 0)
        seen = ", ".join(sorted({_short(v) for v in r.get("partial_unexpected_list") or []}))
        return n, (f"{column}: {n} row{'s' if n != 1 else ''} differ{'s' if n == 1 else ''} from run.json's "
                   f"{_short(want)} ({seen}; {_samples(r)})")

    if want is None:
        exp = gxe.ExpectColumnValuesToBeNull(column=column)
    else:
        exp = gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[want])
    return Check("rows", f"provenance:{column}", column, want, exp, explain)


def score_check(gxe: Any, validator: dict[str, Any]) -> Check:
    name, threshold, op = validator["name"], float(validator["threshold"]), validator["passes_when"]
    column = f"score__{name}"
    bound = {"min_value": threshold} if op == ">=" else {"max_value": threshold}

    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        n = int(r.get("unexpected_count") or 0)
        worst = [row.get(column) for row in r.get("partial_unexpected_index_list") or []]
        shown = ", ".join(f"{i} ({_plain(v):.4g})" for i, v in zip(_row_ids(r)[:SHOWN], worst))
        return n, (f"scores[{name}]: {n} accepted row{'s' if n != 1 else ''} fail {op} {threshold:g} "
                   f"(sample{'s' if n > 1 else ''} {shown})")

    return Check("accepted", f"score:{name}", "scores", f"{op} {threshold:g}",
                 gxe.ExpectColumnValuesToBeBetween(column=column, **bound), explain)


def _listed(r: dict[str, Any], describe: Callable[[Any, str], str]) -> tuple[int, str]:
    """(unexpected rows, the first SHOWN described by (value, sample_id), "(and N more)")."""
    n = int(r.get("unexpected_count") or 0)
    pairs = list(zip(r.get("partial_unexpected_list") or [], _row_ids(r)))
    more = f" (and {n - SHOWN} more)" if n > SHOWN else ""
    return n, "; ".join(describe(value, sample) for value, sample in pairs[:SHOWN]) + more


def file_check(gxe: Any, column: str) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        n, shown = _listed(r, lambda path, sample: f"{path} missing for sample {sample}")
        return n, f"{column}: {shown}"

    return Check("accepted", f"exists:{column}", column, "a file under OUT for every accepted row",
                 gxe.ExpectColumnValuesToBeNull(column=f"missing__{column}"), explain)


def near_duplicate_check(gxe: Any, threshold: float) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        n, shown = _listed(r, lambda distance, sample: f"sample {sample} at dHash distance {distance}")
        return n, (f"image_dhash: {n} accepted image{'s are' if n != 1 else ' is'} within {threshold:g} of another "
                   f"accepted image of the run: {shown}")

    return Check("accepted", "near_duplicate:run", "image_dhash", f"no two accepted images within {threshold:g}",
                 gxe.ExpectColumnValuesToBeNull(column="near__image_dhash"), explain)


def near_duplicates(ids: list[str], hashes: list[bytes], max_fraction: float) -> list[str | None]:
    """Per accepted row, "<distance> to <other sample_id>" when another accepted row of the whole run
    (the one with the smaller id) is a near-duplicate under the run's threshold, else None. The
    pipeline checks each part against the parts before it; this checks the finished corpus as a whole,
    with the same banding (linear in the rows, not quadratic)."""
    from collections import defaultdict

    from medmint.validators.image_quality import band_keys, duplicates_in_group

    if not ids:
        return []
    n_bits = len(hashes[0]) * 8
    max_d = int(max_fraction * n_bits - 1e-9)
    copies: dict[bytes, list[str]] = defaultdict(list)  # exact copies first: a copied corpus stays linear
    for sid, raw in zip(ids, hashes):
        copies[raw].append(sid)
    closest: dict[str, tuple[int, str]] = {}
    groups: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for raw, same in copies.items():
        first, *rest = sorted(same)
        closest.update({sid: (0, first) for sid in rest})
        h = int.from_bytes(raw, "little")
        for key in band_keys(h, n_bits, max_d):
            groups[key].append((first, h))
    for members in groups.values():
        if len(members) > 1:
            for later, found in duplicates_in_group(members, max_d):
                closest[later] = min(closest.get(later, found), found)
    return [f"{closest[s][0] / n_bits:.4g} to {closest[s][1]}" if s in closest else None for s in ids]


def near_duplicate_validator(run: dict[str, Any]) -> dict[str, Any] | None:
    return next((v for v in scored_validators(run) if v["name"] == "image_near_duplicate"), None)


def phi_check(gxe: Any) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        n = int(r.get("unexpected_count") or 0)
        kinds = sorted({k for v in r.get("partial_unexpected_list") or [] for k in str(v).split(", ")})
        return n, f"report_text: PHI ({', '.join(kinds)}) in {_samples(r)}"

    return Check("rows", "phi:report_text", "report_text", "no PHI (medmint.anonymize.phi_text.find_phi)",
                 gxe.ExpectColumnValuesToBeNull(column="phi__report_text"), explain)


def prevalence_check(gxe: Any, finding: str, wanted: int, tolerance: int, cap: int | None) -> Check:
    column = f"requested_{label_slug(finding)}"
    low = max(0, wanted - tolerance)

    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        have = int(_plain(r.get("observed_value")) or 0)
        if cap is not None and have > cap:
            return have, f"{finding}: {have} over the cap of {cap} ({wanted} wanted, tolerance {tolerance})"
        return have, f"{finding}: {have} of {wanted} wanted (tolerance {tolerance})"

    expected = f">= {low}" + (f" and <= {cap}" if cap is not None else "")
    bound = {"min_value": low, **({"max_value": cap} if cap is not None else {})}
    return Check("accepted", f"prevalence:{finding}", column, expected,
                 gxe.ExpectColumnSumToBeBetween(column=f"positive__{label_slug(finding)}", **bound), explain)


def row_count_check(gxe: Any, asset: str, name: str, want: int, what: str) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        have = _plain(r.get("observed_value"))
        return have, f"{what}: {have} rows in the shards, run.json says {want}"

    return Check(asset, name, None, want, gxe.ExpectTableRowCountToEqual(value=want), explain)


def total_check(gxe: Any, total: int) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        have = _plain(r.get("observed_value"))
        return have, f"total: {have} accepted rows of {total} wanted"

    return Check("accepted", "prevalence:total", None, f">= {total}",
                 gxe.ExpectTableRowCountToBeBetween(min_value=total), explain)


def pair_check(gxe: Any, asset: str, name: str, column: str, other: str, what: str, *,
               label: str | None = None, expected: str | None = None) -> Check:
    def explain(r: dict[str, Any]) -> tuple[Any, str]:
        n = int(r.get("unexpected_count") or 0)
        rows = r.get("partial_unexpected_index_list") or []
        shown = "; ".join(what.format(**row) for row in rows[:SHOWN])
        more = f" (and {n - SHOWN} more)" if n > SHOWN else ""
        return n, f"{shown}{more}"

    return Check(asset, name, label or column, expected or f"{column} == {other}",
                 gxe.ExpectColumnPairValuesToBeEqual(column_A=column, column_B=other), explain)


# ----------------------------------------------------------------------------------------------
# Suite
# ----------------------------------------------------------------------------------------------


def schema_frame(schemas: dict[str, "pa.Schema"], labels: tuple[str, ...]) -> "pd.DataFrame":
    """One row per shard and column: the type the shard has and the one ``parquet_schema`` declares."""
    import pandas as pd

    def text(field: Any) -> str:
        return "(missing)" if field is None else f"{field.type}{'' if field.nullable else ' not null'}"

    def same(a: Any, b: Any) -> bool:  # list / map child field names do not matter (item vs element)
        return a is not None and b is not None and a.type.equals(b.type) and a.nullable == b.nullable

    rows = []
    for shard, schema in schemas.items():
        want = parquet_schema(labels, with_pixels=Path(shard).name.startswith("accepted-"))
        for name in dict.fromkeys([*want.names, *schema.names]):
            have_f = schema.field(name) if name in schema.names else None
            want_f = want.field(name) if name in want.names else None
            expected = "(not in the schema)" if want_f is None else text(want_f)
            rows.append({"shard": shard, "column": name, "expected": expected,
                         "actual": expected if same(have_f, want_f) else text(have_f)})
    return pd.DataFrame(rows, columns=["shard", "column", "expected", "actual"])


def scored_validators(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The validators run.json says were used, with a threshold and a direction to check scores by."""
    return [v for v in run.get("validators", []) if v.get("used") and v.get("threshold") is not None
            and v.get("passes_when") in (">=", "<=")]


def corpus_frames(out: Path, run: dict[str, Any], accepted: "pa.Table", rejected: "pa.Table",
                  labels: tuple[str, ...], files: dict[str, list[str]],
                  pixel_nulls: np.ndarray | None = None) -> dict[str, "pd.DataFrame"]:
    """``rows`` and ``accepted`` frames with the derived columns the checks read.

    ``files``: per kind (accepted / rejected), the shard file (relative to OUT) of each row;
    ``pixel_nulls``: which accepted rows have no image (the pixels themselves are never read)."""
    import pandas as pd
    import pyarrow as pa

    tables = [t for t in (accepted, rejected) if t.num_rows or t is accepted]
    both = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    rows = to_frame(both)
    rows["file__shard"] = files["accepted"] + files["rejected"]
    rows["file__accepted"] = [True] * accepted.num_rows + [False] * rejected.num_rows
    texts = rows["report_text"] if "report_text" in rows else pd.Series([None] * len(rows))
    rows["phi__report_text"] = [phi_kinds(t) if isinstance(t, str) else None for t in texts.tolist()]

    acc = rows.iloc[: accepted.num_rows].copy()
    nulls = np.zeros(len(acc), bool) if pixel_nulls is None else np.asarray(pixel_nulls, bool)
    acc["image_png"] = np.where(nulls, None, "(png)")
    for name, values in score_columns(accepted, [v["name"] for v in scored_validators(run)]).items():
        acc[f"score__{name}"] = values
    near = near_duplicate_validator(run)
    if near:  # without the column (the schema check fails then) nothing can be said here
        acc["near__image_dhash"] = (near_duplicates(accepted["sample_id"].to_pylist(), accepted["image_dhash"].to_pylist(),
                                                    float(near["threshold"]))
                                    if "image_dhash" in accepted.column_names else [None] * len(acc))
    for column in ("image_path", "sr_path"):
        acc[f"missing__{column}"] = missing_files(out, acc[column] if column in acc else pd.Series(
            [None] * len(acc), index=acc.index))
    for label in labels:
        col = f"requested_{label_slug(label)}"
        values = acc[col] if col in acc else pd.Series(np.nan, index=acc.index)
        acc[f"positive__{label_slug(label)}"] = (values == 1).astype(np.int64)
    return {"rows": rows.copy(), "accepted": acc.copy()}  # copies are consolidated: GX slices them often


def build_checks(run: dict[str, Any], labels: tuple[str, ...]) -> list[Check]:
    """Every expectation of the suite for this run."""
    import great_expectations.expectations as gxe

    from medmint.config import TargetConfig
    from medmint.pipeline.rebalance import Goal

    checks: list[Check] = [pair_check(gxe, "schema", "schema", "actual", "expected",
                                      "{shard}: column {column} is {actual}, the schema says {expected}",
                                      label="(every column)", expected="the columns and types of parquet_schema()")]
    full = parquet_schema(labels, with_pixels=False)
    for field in full:
        if not field.nullable:
            checks.append(not_null_check(gxe, "rows", field.name))
    checks.append(not_null_check(gxe, "accepted", "image_png"))
    for column in ("image_path", "sr_path"):
        checks.append(file_check(gxe, column))
    checks += [unique_check(gxe, c) for c in UNIQUE_COLUMNS]
    want = {"config_sha256": run.get("config_sha256"), "checkpoint_sha256": run.get("checkpoint_sha256"),
            "generator": (run.get("config") or {}).get("generator", {}).get("name"),
            "medmint_version": (run.get("versions") or {}).get("medmint"), "created_at": _iso(run.get("created_at"))}
    checks += [provenance_check(gxe, c, want[c]) for c in PROVENANCE]
    checks.append(phi_check(gxe))
    checks.append(pair_check(gxe, "rows", "shard:accepted", "accepted", "file__accepted",
                             "sample {sample_id}: accepted={accepted} in a shard of the other kind"))
    checks.append(pair_check(gxe, "rows", "shard:name", "shard", "file__shard",
                             "sample {sample_id}: shard column says {shard}, row is in {file__shard}"))
    checks += [score_check(gxe, v) for v in scored_validators(run)]
    near = near_duplicate_validator(run)
    if near:
        checks.append(near_duplicate_check(gxe, float(near["threshold"])))
    counts = run.get("counts") or {}
    checks.append(row_count_check(gxe, "accepted", "count:accepted", int(counts.get("accepted", 0)), "accepted"))
    checks.append(row_count_check(gxe, "rows", "count:rejected+accepted",
                                  int(counts.get("accepted", 0)) + int(counts.get("rejected", 0)),
                                  "accepted + rejected"))
    target = TargetConfig.model_validate(run["target"])
    prevalence = (run.get("reference") or {}).get("prevalence")
    goal = Goal.of(target, prevalence)
    checks.append(total_check(gxe, goal.total))
    for finding, wanted in goal.wanted.items():
        checks.append(prevalence_check(gxe, finding, wanted, goal.tolerance, goal.caps.get(finding)))
    return checks


def run_suite(out: Path, run: dict[str, Any], accepted: "pa.Table", rejected: "pa.Table",
              schemas: dict[str, "pa.Schema"], files: dict[str, list[str]],
              pixel_nulls: np.ndarray | None = None) -> SuiteRun:
    """Run the suite over a corpus already read (no pixels) and return one dict per expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    labels = tuple(run.get("config", {}).get("labels") or CHEXPERT_LABELS)
    frames = corpus_frames(out, run, accepted, rejected, labels, files, pixel_nulls)
    frames["schema"] = schema_frame(schemas, labels)
    checks = build_checks(run, labels)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("medmint")
    gx_results: dict[str, Any] = {}
    outcome: dict[int, dict[str, Any]] = {}
    for asset in ("schema", "rows", "accepted"):
        mine = [(i, c) for i, c in enumerate(checks) if c.asset == asset]
        batch = source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe("all")
        for i, check in mine:
            check.expectation.meta = {"medmint": {"check": i, "name": check.name, "column": check.column,
                                                  "expected": check.expected}}
            check.expectation.description = f"{check.name}: {check.expected}"
        # built whole, then stored once (add_expectation re-serialises the suite at every call)
        suite = context.suites.add(gx.ExpectationSuite(name=f"medmint.{asset}",
                                                       expectations=[c.expectation for _, c in mine]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"medmint.{asset}", data=batch, suite=suite))
        keys = ["shard", "column"] if asset == "schema" else ["sample_id"]
        result = definition.run(batch_parameters={"dataframe": frames[asset]}, result_format={
            "result_format": "SUMMARY", "unexpected_index_column_names": keys, "partial_unexpected_count": KEPT})
        gx_results[asset] = result
        for r in result.results:
            i = r.expectation_config.meta["medmint"]["check"]
            outcome[i] = {"success": bool(r.success), "result": dict(r.result or {}),
                          "error": (r.exception_info or {}).get("exception_message")
                          if r.exception_info and r.exception_info.get("raised_exception") else None}
    expectations = [_summarise(c, outcome.get(i)) for i, c in enumerate(checks)]
    expectations.sort(key=lambda e: e["passed"])  # failing first, suite order kept within each group
    return SuiteRun(expectations, gx_results, context)


def _summarise(check: Check, outcome: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": check.name, "passed": False, "column": check.column,
                             "observed": None, "expected": _plain(check.expected), "details": ""}
    if outcome is None:
        entry["details"] = f"{check.name}: not run by Great Expectations"
    elif outcome["error"]:
        entry["details"] = f"{check.name}: could not be evaluated ({outcome['error'].splitlines()[0]})"
    else:
        entry["passed"] = outcome["success"]
        observed, line = check.explain(outcome["result"])
        entry["observed"] = _plain(observed)
        entry["details"] = "" if entry["passed"] else line
    return entry
