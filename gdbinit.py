"""What users `source` in gdb: finds the gdbmem package and its environment, registers commands.

    (gdb) source /path/to/gdbmem/gdbinit.py

Works from any directory and in any gdb with Python >= 3.9; sourcing it twice registers
nothing twice. gdbmem writes its tables with tabulate and its colours with pygments: the
project's virtualenv (.venv, made from gdb's own Python by `make setup`) holds them, and is
put first on sys.path when it matches this gdb's Python (before the system's own packages,
which may hold an older pygments). Without them, one line says what to run.
"""

import os
import sys


def _gdbmem_setup() -> None:
    import gdb

    if sys.version_info < (3, 9):
        gdb.write("gdbmem: needs Python 3.9 or newer, and this gdb embeds Python %d.%d; "
                  "use a newer gdb\n" % sys.version_info[:2], gdb.STDERR)
        return
    # Where this very file is: its code's own file name. __file__ is the outermost script
    # gdb sources (a script that does gdb.execute("source .../gdbinit.py") keeps its own),
    # and very old gdbs set none.
    source = sys._getframe(0).f_code.co_filename
    if not source or source.startswith("<"):
        gdb.write("gdbmem: cannot tell where gdbinit.py is; use "
                  "`python sys.path.insert(0, '/path/to/gdbmem')` then `python import gdbmem."
                  "commands; gdbmem.commands.register()`\n", gdb.STDERR)
        return
    here = os.path.dirname(os.path.abspath(source))
    if here not in sys.path:
        sys.path.insert(0, here)
    site = os.path.join(here, ".venv", "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    if os.path.isdir(site) and site not in sys.path:
        sys.path.insert(1, site)
    try:
        import gdbmem.commands

        gdbmem.commands.register()  # imports the commands, and what they need
    except ImportError as exc:
        missing = getattr(exc, "name", None)
        if missing in ("tabulate", "pygments", "pygal"):
            gdb.write("gdbmem: needs the Python packages tabulate, pygments and pygal in gdb's "
                      "Python "
                      "(%s): run `make setup` in %s, or install them for that Python\n"
                      % (sys.executable or "python%d.%d" % sys.version_info[:2], here),
                      gdb.STDERR)
        else:
            gdb.write("gdbmem: cannot import the package from %s (%s); run `make setup` there\n"
                      % (here, exc), gdb.STDERR)


_gdbmem_setup()
del _gdbmem_setup
