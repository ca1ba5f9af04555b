"""Writing a file so that nothing is lost: into a temporary beside it, flushed to disk, given the
permissions ``open()`` would give (0666 less the umask; ``mkstemp`` makes 0600, which other users
and jobs could not read), then published under its name in one rename. On any failure the
temporary is removed and the target is untouched. Images, checkpoints, ONNX files and reports all
go through here.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

TEMP_MARK = ".scoredeblur-tmp"  # in every temporary's name, so leftovers of a killed run can be found


def umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it (and put it back at once)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike, publish: Callable[[str, Path], None] = os.replace) -> Iterator[str]:
    """Yield a temporary file's name to write ``path``'s content into; when the block ends without
    an error, ``publish(tmp, path)`` gives it its name (default: replace whatever is there).
    An OSError before the block runs means the folder cannot take the file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}{TEMP_MARK}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~umask())
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
