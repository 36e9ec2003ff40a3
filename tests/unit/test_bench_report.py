"""bench/harness/report.py: the targets its table says met or missed (ratios worked by hand)."""

from __future__ import annotations

from bench.harness.report import table


def target_of(lines: str, title_start: str) -> str:
    row = next(line for line in lines.splitlines() if title_start in line)
    return row.rstrip(" |").rsplit("|", 1)[1].strip()


def test_warm_loads_are_held_to_1_25_times_the_floor_and_the_other_actions_to_1_5() -> None:
    results = {
        1_000_000: {
            # 0.45 / 0.36 = 1.25: met; 0.46 / 0.36 = 1.28: missed at 1.25 (met at 1.5).
            "ours": {"warm_charts": [0.45], "warm_grid": [0.46], "submit": [0.17]},
            # submit: 0.17 / 0.12 = 1.42: within 1.5.
            "floor": {"warm_charts": [0.36], "warm_grid": [0.36], "submit": [0.12]},
        }
    }
    text = table(results, timeout=120.0)
    assert target_of(text, "Warm page load until both charts") == "≤ 1.25× trivial: met"
    assert target_of(text, "Warm page load until the grid") == "≤ 1.25× trivial: missed"
    assert target_of(text, "Submit a ticket") == "≤ 1.5× trivial: met"
