"""Progress of long jobs: a bar on a terminal, plain lines otherwise.

The bar is tqdm's, an optional extra (``pip install 'authzguard[progress]'``), imported
only when a bar is drawn. Without it, or when the output is not a terminal (a log file,
CI), the job writes a line when it starts, at most one every ``every`` seconds while it
runs, and one when it ends::

    with progress("indexing sessions", total=len(keys), unit="sessions") as advance:
        for chunk in chunks:
            ...
            advance(len(chunk))
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.core.management.base import OutputWrapper


class Stream(Protocol):
    def write(self, text: str, /) -> Any: ...
    def flush(self) -> Any: ...
    def isatty(self) -> bool: ...


class CommandOutput:
    """A management command's ``stdout``/``stderr`` as a plain stream.

    ``OutputWrapper.write`` ends every write with a newline (and colours ``stderr``),
    which would break a bar that redraws its line.
    """

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str, /) -> None:
        self.wrapper.write(text, style_func=_unstyled, ending="")

    def flush(self) -> None:
        self.wrapper.flush()

    def isatty(self) -> bool:
        return bool(self.wrapper.isatty())


def _unstyled(text: str) -> str:
    return text


class _Lines:
    """Plain progress lines, for logs and pipes."""

    def __init__(self, description: str, total: int | None, unit: str, stream: Stream,
                 every: float) -> None:  # fmt: skip
        self.description, self.total, self.unit = description, total, unit
        self.stream, self.every = stream, every
        self.count = 0
        self.started = self.last = time.monotonic()
        self._write(f"{description}: started" + (f", {total} {unit}".rstrip() if total else ""))

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _amount(self) -> str:
        done = f"{self.count}/{self.total}" if self.total else str(self.count)
        percent = f" ({100 * self.count // self.total}%)" if self.total else ""
        return f"{done} {self.unit}".rstrip() + percent

    def update(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._write(f"{self.description}: {self._amount()}")

    def close(self) -> None:
        spent = time.monotonic() - self.started
        self._write(f"{self.description}: done, {self._amount()} in {spent:.1f} s")


def _bar(description: str, total: int | None, unit: str, stream: Stream) -> Any:
    """A tqdm bar, or ``None`` when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=description, unit=f" {unit}" if unit else "it",
                file=stream, dynamic_ncols=True, mininterval=0.2, leave=True)  # fmt: skip


@contextmanager
def progress(
    description: str,
    total: int | None = None,
    *,
    unit: str = "",
    stream: Stream | None = None,
    bar: bool | None = None,
    every: float = 5.0,
) -> Iterator[Callable[[int], None]]:
    """Report progress on ``stream`` (default ``sys.stderr``); yields ``advance(n)``.

    ``bar`` forces the choice; by default a bar is drawn when ``stream`` is a terminal
    and tqdm is installed.
    """
    out: Stream = sys.stderr if stream is None else stream
    drawn = _bar(description, total, unit, out) if (out.isatty() if bar is None else bar) else None
    if drawn is not None:
        try:
            yield drawn.update
        finally:
            drawn.close()
        return
    lines = _Lines(description, total, unit, out, every)
    try:
        yield lines.update
    finally:
        lines.close()
