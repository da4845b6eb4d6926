"""Output files written whole or not at all, never over an existing file by accident.

Memory dumps hold secrets and can be huge, so a new file is created with mode 0600 under a
temporary name in the destination's directory (O_EXCL|O_NOFOLLOW: never through a symlink),
and appears under its real name only once complete: an error, a full disk or Ctrl-C leaves
nothing behind. Without `force` the publishing is a hard link, which fails rather than replace
a file that appeared meanwhile.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from gdbmem.errors import OutputError


def check_new(paths: Sequence[str], force: bool = False) -> None:
    """Fail early, before any work, if a file exists or its directory is not writable."""
    for path in paths:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise OutputError(f"cannot write {path}: no directory {directory}")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {path}: {directory} is not writable")
        if os.path.lexists(path) and not force:
            raise OutputError(f"{path} exists (use --force to replace it)")
        if os.path.isdir(path):
            raise OutputError(f"{path} is a directory")


class SafeFile:
    """`with SafeFile(path) as out: out.write(...)`: the file exists only if the block ends."""

    def __init__(self, path: str, force: bool = False):
        self.path = path
        self.force = force
        directory, name = os.path.split(os.path.abspath(path))
        self.temporary = os.path.join(directory, f".{name}.{os.getpid()}.part")
        self.fd: int | None = None
        self.size = 0

    def __enter__(self) -> SafeFile:
        check_new([self.path], self.force)
        try:
            self.fd = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                              | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise OutputError(f"cannot create {self.temporary}: {exc.strerror}") from None
        return self

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)  # type: ignore[arg-type]
            except OSError as exc:
                raise OutputError(f"cannot write {self.path}: {exc.strerror}") from None
            view = view[written:]
        self.size += len(data)

    def reserve(self, offset: int, length: int) -> None:
        """Allocate disk for bytes to come: writing is faster, and a full disk shows at once."""
        try:
            os.posix_fallocate(self.fd, offset, length)  # type: ignore[arg-type]
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                return  # a filesystem without it: plain writes will do
            raise OutputError(f"cannot write {self.path}: {exc.strerror}") from None

    def skip(self, count: int) -> None:
        """Leave `count` zero bytes as a hole (a sparse file where the filesystem can)."""
        os.lseek(self.fd, count, os.SEEK_CUR)  # type: ignore[arg-type]
        self.size += count

    def __exit__(self, kind: type | None, value: BaseException | None, tb: object) -> None:
        fd, self.fd = self.fd, None
        if kind is not None:
            self._discard(fd)
            return
        try:
            os.ftruncate(fd, self.size)  # type: ignore[arg-type]  # a trailing hole
            os.close(fd)  # type: ignore[arg-type]
            fd = None
            self._publish()
        except OSError as exc:
            self._discard(fd)
            raise OutputError(f"cannot write {self.path}: {exc.strerror}") from None
        except BaseException:
            self._discard(fd)
            raise

    def _publish(self) -> None:
        if self.force:
            os.replace(self.temporary, self.path)
            return
        try:
            os.link(self.temporary, self.path)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise OutputError(f"{self.path} exists (use --force to replace it)") from None
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if os.path.lexists(self.path):  # no hard links here: check, then rename
                raise OutputError(f"{self.path} exists (use --force to replace it)") from None
            os.rename(self.temporary, self.path)
            return
        os.unlink(self.temporary)

    def _discard(self, fd: int | None) -> None:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(self.temporary)
        except FileNotFoundError:
            pass
