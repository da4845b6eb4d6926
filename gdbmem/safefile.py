"""Every file gdbmem writes: whole or not at all, 0600, never through a symlink, never over
anything by accident.

Memory dumps hold secrets and can be huge, so a new file is created with mode 0600 under a
temporary name in the destination's directory (O_EXCL|O_NOFOLLOW: never through a symlink),
and appears under its real name only once complete: an error, a full disk or Ctrl-C leaves
nothing behind. Without `force` the publishing is a hard link, which fails rather than
replace a file that appeared meanwhile; with it, only a regular file (or a symlink itself,
never what it points to) is replaced, never a device, fifo, socket or directory. Files that
belong together (a dump and its description) are published together by publish(): both
appear, or neither.

A temporary file is named `.NAME.PID.NONCE.MAC.part`, where MAC is a keyed digest of the
name part, the pid and the nonce: a file is gdbmem's own only if its name carries the right
MAC, and it is a regular file of this user's with gdbmem's mode (0600). One left by a gdbmem
that was killed (its pid gone) is removed the next time gdbmem writes into that directory
(sweep()), and the caller is told; a file that merely looks alike (a user's `.notes.99.part`)
is never touched.
Files that grow (journals, captures) are created by create_exclusive(), with the same rules.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Callable, Sequence

from gdbmem.errors import OutputError
from gdbmem.units import format_bytes

# The name part kept in a temporary file's name: with `.`, the pid and the token it stays
# well under the 255 bytes a file name may have, however long the real name.
_NAME_KEPT = 80
_PART_RE = re.compile(r"\.(.*)\.(\d+)\.([0-9a-f]{8})\.([0-9a-f]{12})\.part\Z", re.DOTALL)
_MAC_KEY = b"gdbmem temporary file, v2"
OWN_MODE = 0o600  # every file gdbmem creates
LARGEST_FILE = (1 << 63) - 1  # bytes: the largest offset a file can have on Linux


def _mac(name: str, pid: int, nonce: str) -> str:
    message = f"{name}\0{pid}\0{nonce}".encode("utf-8", "surrogateescape")
    return hashlib.blake2s(message, key=_MAC_KEY, digest_size=6).hexdigest()


def temporary_name(name: str, pid: int) -> str:
    """The temporary name of a file being written as `name` by process `pid`."""
    kept, nonce = name[:_NAME_KEPT], secrets.token_hex(4)
    return f".{kept}.{pid}.{nonce}.{_mac(kept, pid, nonce)}.part"


def _own_part(m: re.Match) -> bool:
    name, pid, nonce, mac = m.groups()
    return hmac.compare_digest(mac, _mac(name, int(pid), nonce))

Notify = Callable[[str], None]


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a fifo"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse_unless_regular(path: str) -> None:
    """--force replaces regular files only (and a symlink itself, never what it points to)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OutputError(f"{path} is {_kind_of(mode)}: gdbmem writes regular files only, "
                          "and --force replaces only those")


def check_new(paths: Sequence[str], force: bool = False) -> None:
    """Fail early, before any work, if a file exists or its directory is not writable."""
    for path in paths:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise OutputError(f"cannot write {path}: no directory {directory}")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {path}: {directory} is not writable")
        _refuse_unless_regular(path)
        if os.path.lexists(path) and not force:
            raise OutputError(f"{path} exists (use --force to replace it)")


def own_files(directory: str, name: re.Pattern, proved: Callable[[str, re.Match], bool]
              ) -> list[tuple[str, os.stat_result, re.Match]]:
    """The files of ours in `directory` whose names match `name`: what gdbmem may remove
    there (stale parts, old journals). Ours: a regular file (never a link) of this user's,
    with gdbmem's mode, that proved(path, match) says gdbmem made (a MAC in its name, the
    first bytes of a journal): never a file that merely looks alike."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for entry in names:
        m = name.match(entry)
        if m is None:
            continue
        path = os.path.join(directory, entry)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if (stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()
                and stat.S_IMODE(info.st_mode) == OWN_MODE and proved(path, m)):
            found.append((path, info, m))
    return found


def sweep(directory: str) -> list[str]:
    """Remove the temporary files of gdbmems that died while writing here (their pid is gone):
    the names of those removed, each with its size."""
    removed = []
    for path, info, m in own_files(directory, _PART_RE, lambda path, m: _own_part(m)):
        pid = int(m.group(2))
        if pid == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        try:
            os.unlink(path)
        except OSError:
            continue
        removed.append(f"{path} ({format_bytes(info.st_blocks * 512)} on disk)")
    return removed


class SafeFile:
    """`with SafeFile(path) as out: out.write(...)`: the file exists only if the block ends.
    With publish_now=False it stays under its temporary name until publish([...]) names it
    together with the others of its kind (or discards them all)."""

    def __init__(self, path: str, force: bool = False, notify: Notify | None = None,
                 publish_now: bool = True):
        self.path = path
        self.force = force
        self.notify = notify
        self.publish_now = publish_now
        directory, name = os.path.split(os.path.abspath(path))
        self.directory = directory
        self.temporary = os.path.join(directory, temporary_name(name, os.getpid()))
        self.fd: int | None = None
        self.size = 0
        self.ready = False  # written whole, under its temporary name

    def __enter__(self) -> SafeFile:
        check_new([self.path], self.force)
        for removed in sweep(self.directory):
            if self.notify is not None:
                self.notify(f"removed {removed}, left by a gdbmem that was killed while "
                            "writing")
        try:
            self.fd = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                              | os.O_NOFOLLOW | os.O_CLOEXEC, OWN_MODE)
            os.fchmod(self.fd, OWN_MODE)  # whatever the umask: the mode that says it is ours
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
        if offset + length > LARGEST_FILE:
            raise OutputError(f"cannot write {self.path}: {offset + length} bytes are more "
                              "than a file can hold")
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
            self.discard(fd)
            return
        try:
            os.ftruncate(fd, self.size)  # type: ignore[arg-type]  # a trailing hole
            os.close(fd)  # type: ignore[arg-type]
            fd = None
        except OSError as exc:
            self.discard(fd)
            raise OutputError(f"cannot write {self.path}: {exc.strerror}") from None
        self.ready = True
        if self.publish_now:
            publish([self])

    def _publish(self) -> None:
        if self.force:
            _refuse_unless_regular(self.path)  # it may have become something else meanwhile
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

    def discard(self, fd: int | None = None) -> None:
        """Remove the temporary file, if it is still there (nothing once published)."""
        if fd is not None:
            os.close(fd)
        self.ready = False
        try:
            os.unlink(self.temporary)
        except FileNotFoundError:
            pass


def publish(files: Sequence[SafeFile]) -> None:
    """Give files written whole their real names, all or none: if one cannot be published,
    the ones already published are removed again and the rest discarded."""
    done: list[SafeFile] = []
    try:
        for file in files:
            if not file.ready:
                raise OutputError(f"cannot write {file.path}: it was not written whole")
            file._publish()
            done.append(file)
    except BaseException as exc:
        for file in done:
            try:
                os.unlink(file.path)
            except OSError:
                pass
        for file in files:
            if file not in done:
                file.discard()
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {files[len(done)].path}: {exc.strerror}") from None
        raise


def create_exclusive(path: str) -> int:
    """A new file that will grow (a journal, a capture): created, never opened if anything is
    there already (a planted symlink included), mode 0600. Returns the descriptor, append-only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_APPEND
                     | os.O_CLOEXEC, OWN_MODE)
    except FileExistsError:
        raise OutputError(f"{path} exists: gdbmem never appends to a file it did not "
                          "create") from None
    except OSError as exc:
        raise OutputError(f"cannot create {path}: {exc.strerror}") from None
    os.fchmod(fd, OWN_MODE)
    return fd
