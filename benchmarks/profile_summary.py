#!/usr/bin/env python3
"""Summarise a py-spy ``--format raw`` profile (collapsed stacks): the functions with the
most samples, inclusive (anywhere on the stack) and exclusive (on top).

    python benchmarks/profile_summary.py PROFILE.txt [--top 25] [--filter remoteapp]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", default="", help="only frames whose text contains this")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    total = 0
    with open(args.profile) as profile:
        lines = profile.readlines()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        for frame in set(frames):
            if args.filter in frame:
                inclusive[frame] += n
        if args.filter in frames[-1]:
            exclusive[frames[-1]] += n
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("exclusive", exclusive)):
        print(f"\n-- {title}")
        for frame, n in counter.most_common(args.top):
            print(f"{100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
