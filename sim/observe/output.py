"""Output files of ``sim run``: never over an input, written whole, at most one on stdout.

A trace or metrics file is written under a temporary name beside its path and renamed to
it when complete (`AtomicFile`), so a run that is killed, or fails, leaves the file that
stood there before (or none), never a truncated or empty one. ``-`` is standard output.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Mapping
from itertools import combinations
from pathlib import Path
from typing import IO, Protocol

import attrs


class TextOutput(Protocol):
    """Where an output goes: a file written whole, or standard output."""

    def write(self, text: str) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@attrs.define(eq=False)
class AtomicFile:
    """A text file that appears at ``path`` only when `close` is called (`discard`:
    never). Written under ``.NAME.PID.tmp`` in the same folder, so the rename is atomic,
    with the mode of the file it replaces. A symlink is followed: the file it points to is
    replaced, the link stays. What is not a regular file (``/dev/null``, ``/dev/stdout``, a
    FIFO), or a file in a folder where no temporary file can be made, is written in place:
    replacing it would do harm or cannot be done."""

    path: Path
    _temp: Path | None  # None: written in place
    _stream: IO[str]

    @classmethod
    def open(cls, path: str | Path) -> AtomicFile:
        """Create the temporary file now: a path that cannot be written fails at once."""
        path = Path(path)
        real = path.resolve()
        try:
            mode: int | None = os.stat(real).st_mode
        except OSError:
            mode = None  # not there yet
        if mode is not None and not stat.S_ISREG(mode):
            return cls(path, None, open(path, "w", encoding="utf-8"))
        temp = real.with_name(f".{real.name}.{os.getpid()}.tmp")
        try:
            stream = open(temp, "w", encoding="utf-8")  # noqa: SIM115 (closed by close or discard)
        except OSError:
            return cls(path, None, open(path, "w", encoding="utf-8"))  # its own error, if it has one
        if mode is not None:
            os.chmod(temp, stat.S_IMODE(mode))
        return cls(real, temp, stream)

    def write(self, text: str) -> int:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        """Finish the file: it replaces whatever stood at ``path``."""
        if self._stream.closed:
            return
        self._stream.close()
        if self._temp is not None:
            os.replace(self._temp, self.path)

    def discard(self) -> None:
        """Give up: ``path`` keeps what it had (written in place: what was written so far);
        the temporary file goes."""
        if not self._stream.closed:
            self._stream.close()
            if self._temp is not None:
                self._temp.unlink(missing_ok=True)


@attrs.define(eq=False)
class StandardOutput:
    """Standard output as an output file: closing it only flushes it."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.flush()

    def discard(self) -> None:
        sys.stdout.flush()


def open_output(path: str) -> AtomicFile | StandardOutput:
    """``path`` as an output written whole (`AtomicFile`), or standard output for ``-``."""
    if path == "-":
        utf8_stdout()
        return StandardOutput()
    return AtomicFile.open(path)


def utf8_stdout() -> None:
    """Make standard output UTF-8, strict: JSON on it is UTF-8 whatever the terminal's
    encoding, never escape-mangled."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8", errors="strict")


def output_problem(outputs: Mapping[str, str], inputs: Mapping[str, Path]) -> str | None:
    """What is wrong with the output paths (option -> path), or None.

    No output may be an input (``inputs``: what it is -> path), nor another output, nor
    a folder, nor in a folder that does not exist (found before anything is written, not
    after a long run); at most one goes to standard output.
    """
    stdout = [option for option, path in outputs.items() if path == "-"]
    if len(stdout) > 1:
        both = "both" if len(stdout) == 2 else "all"
        return f"{' and '.join(stdout)} {both} go to standard output (-); give all but one of them a file"
    files = [(option, Path(path)) for option, path in outputs.items() if path != "-"]
    for option, path in files:
        for what, source in inputs.items():
            if same_file(path, source):
                return f"{option} {path} is {what}: it would be overwritten; pick another path"
        if path.is_dir():
            return f"{option} {path} is a folder; give a file path"
        if not path.parent.is_dir():
            return f"{option} {path}: there is no folder {path.parent}; create it first, or pick another path"
        if stdout and _is_stdout(path):
            return f"{option} {path} is standard output, where {stdout[0]} - goes too; give one of them a file"
    for (first, path), (second, other) in combinations(files, 2):
        if same_file(path, other) and not same_file(path, Path(os.devnull)):  # /dev/null takes anything
            return f"{first} and {second} are the same file ({other}); give each its own"
    return None


def _is_stdout(path: Path) -> bool:
    """Whether ``path`` is where standard output goes (/dev/stdout, /proc/self/fd/1, a tty)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (the same path, or links to one file)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False
