"""Shares of a py-spy profile: which functions the samples spend their time in.

    python bench/shares.py profile.txt                 # top functions, inclusive and own
    python bench/shares.py profile.txt _write_batch flush bulk_create

Reads py-spy's collapsed stacks (``record --format raw``, as ``run.py --py-spy`` writes):
one line per distinct stack, frames separated by ``;`` and the sample count last. A
function's inclusive share counts every sample with it anywhere on the stack; its own
share counts the samples where it is the innermost frame. Idle samples (py-spy
``--idle`` off) are not in the file, so shares are of the busy time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# "function (path/to/file.py:123)" -> "function (file.py)": one entry per function.
_FRAME = re.compile(r"^(?P<name>.+?) \((?P<path>[^:()]+)(?::\d+)?\)$")


def _frame(raw: str) -> str:
    match = _FRAME.match(raw.strip())
    if not match:
        return raw.strip()
    return f"{match['name']} ({Path(match['path']).name})"


def read(path: Path) -> tuple[Counter, Counter, int]:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        total += samples
        for name in set(frames):
            inclusive[name] += samples
        own[frames[-1]] += samples
    return inclusive, own, total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profile", type=Path)
    p.add_argument("names", nargs="*", help="substrings of functions to report (default: top)")
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    inclusive, own, total = read(args.profile)
    print(f"{total} samples")
    if args.names:
        for needle in args.names:
            hits = [(n, c) for n, c in inclusive.items() if needle in n]
            for name, count in sorted(hits, key=lambda x: -x[1])[:5]:
                print(f"{100 * count / total:5.1f} %  {name}")
        return
    print("inclusive:")
    for name, count in inclusive.most_common(args.top):
        print(f"{100 * count / total:5.1f} %  {name}")
    print("own:")
    for name, count in own.most_common(args.top):
        print(f"{100 * count / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
