"""The figures of ``make mutation``: killed / total mutants per module, over the functions under test and over
the whole module, and the survivors of the functions under test (run from the repository root, after
``mutmut run``; it reads mutmut's results in ``mutants/``).

``python -m tests.mutation.summary``
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

# The functions whose mutants must be killed or explained (docs/development.md, "Mutation testing"); mutmut
# mutates the whole module, and the rest of it (construction, storage, the env step) is tested elsewhere.
UNDER_TEST = {
    "reinforce_sb3/estimator.py": None,  # every function
    "reinforce_sb3/buffer.py": {"to_tensors", "returns", "episode_batch", "_check_finite"},
    "reinforce_sb3/rollout/collector.py": {
        "start_batch",
        "_join",
        "complete",
        "active",
        "record",
        "waste",
        "_check_finite",
        "_refuse",
    },
}
CAUGHT = {"killed", "timeout", "caught by type check"}


def function_of(mutant: str) -> str:
    """``reinforce_sb3.buffer.xǁEpisodeBufferǁreturns__mutmut_3`` -> ``returns``."""
    name = mutant.rsplit(".", 1)[-1].split("ǁ")[-1]
    return re.sub(r"__mutmut_\d+$", "", name).removeprefix("x_")


def main() -> None:
    for module, functions in UNDER_TEST.items():
        meta = Path("mutants") / f"{module}.meta"
        results = json.loads(meta.read_text())["exit_code_by_key"]
        statuses = {name: status_by_exit_code[code] for name, code in results.items()}
        in_scope = {name: s for name, s in statuses.items() if functions is None or function_of(name) in functions}
        for label, group in (("functions under test", in_scope), ("whole module", statuses)):
            counts = Counter(group.values())
            caught = sum(counts[s] for s in CAUGHT)
            others = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in CAUGHT)
            print(f"{module}, {label}: {caught} / {len(group)} killed" + (f" ({others})" if others else ""))
        for name, status in in_scope.items():
            if status not in CAUGHT:
                print(f"    {status}: {name}")


if __name__ == "__main__":
    main()
