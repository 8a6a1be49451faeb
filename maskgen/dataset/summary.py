"""What a run did and what the dataset now holds: :class:`Summary`, and its closing text."""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path

from maskgen.dataset.job import STAGES
from maskgen.dataset.manifest import LABELS
from maskgen.dataset.parts import Tally
from maskgen.dataset.shards import shard_folder
from maskgen.dataset.sources import SPLIT_NAMES


@dataclass
class Summary:
    """What a run did and what the dataset now holds.

    ``counts[split][label]``, ``outputs``, ``skips[kind]`` and ``sources_*`` describe the whole
    dataset in OUT after the run (the merged manifest; for a shard run, the shard's part of it);
    ``processed``, ``run_*`` and ``timings`` (seconds summed over workers, per stage) describe
    this run only. ``runner`` is ``'local'`` or ``'dask'`` (``engine`` is its old name); ``shard``
    is ``(I, N)`` for a shard run; ``merged_shards`` is N for ``maskgen merge``.
    """

    out: Path
    workers: int = 1
    processed: int = 0
    already_done: int = 0
    run_outputs: int = 0
    run_skips: dict = field(default_factory=collections.Counter)
    timings: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall_seconds: float = 0.0
    sources_total: int = 0
    sources_with_output: int = 0
    outputs: int = 0
    counts: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    skips: dict = field(default_factory=collections.Counter)
    coco: dict = field(default_factory=dict)
    interrupted: bool = False
    runner: str = "local"
    shard: tuple[int, int] | None = None
    merged_shards: int = 0

    @property
    def engine(self) -> str:
        """The old name of :attr:`runner`."""
        return self.runner

    @property
    def images_per_second(self) -> float:
        return self.processed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def add_report(self, report: dict) -> None:
        """Count one source's report (from a runner) in this run's figures."""
        self.processed += 1
        self.run_outputs += sum(report["labels"].values())
        for key, seconds in report["timings"].items():
            self.timings[key] += seconds
        for s in report["skips"]:
            self.run_skips[s[3]] += 1

    def set_dataset(self, tally: Tally) -> None:
        """What the manifest just written holds (:func:`maskgen.dataset.parts.write_manifest`)."""
        self.counts, self.outputs, self.skips = tally.counts, tally.outputs, tally.skips
        self.sources_total, self.sources_with_output = tally.sources_total, tally.sources_with_output

    def format(self) -> str:
        lines = [self._headline(), self._where()]
        if self.counts:
            lines.append(f"  {'split':<8}" + "".join(f"{lab:>16}" for lab in LABELS) + f"{'total':>8}")
            for split in [s for s in SPLIT_NAMES if s in self.counts]:
                c = self.counts[split]
                lines.append(f"  {split:<8}" + "".join(f"{c.get(lab, 0):>16}" for lab in LABELS)
                             + f"{sum(c.values()):>8}")
        if self.skips:
            lines.append("skipped (see skipped.csv): " + ", ".join(
                f"{kind} {n}" for kind, n in sorted(self.skips.items(), key=lambda t: (-t[1], t[0]))))
        else:
            lines.append("skipped: none")
        if self.processed:
            total = sum(self.timings.values()) or 1.0
            lines.append("time per stage, this run (s summed over workers, ms per source, share): " + ", ".join(
                f"{s} {self.timings[s]:.1f} ({1000 * self.timings[s] / self.processed:.0f}, "
                f"{100 * self.timings[s] / total:.0f}%)" for s in STAGES))
        for split, path in self.coco.items():
            lines.append(f"COCO {split}: {path}")
        return "\n".join(lines)

    def _headline(self) -> str:
        if self.merged_shards:
            return (f"maskgen merge: {self.merged_shards} shard{'s' if self.merged_shards != 1 else ''} "
                    f"joined in {self.wall_seconds:.1f} s")
        kind = " dask" if self.runner == "dask" else ""
        return (f"maskgen augment: {self.processed} source images processed in {self.wall_seconds:.1f} s "
                f"({self.images_per_second:.2f} images/s, {self.workers}{kind} worker"
                f"{'s' if self.workers != 1 else ''}); {self.already_done} already done before this run")

    def _where(self) -> str:
        if self.shard is None:
            return (f"dataset in {self.out}: {self.outputs} images from {self.sources_with_output} of "
                    f"{self.sources_total} sources")
        i, n = self.shard
        return (f"shard {i}/{n} in {shard_folder(self.out, self.shard)}: {self.outputs} "
                f"images from {self.sources_with_output} of {self.sources_total} sources "
                f"(`maskgen merge {self.out}` joins the shards once all {n} are done)")
