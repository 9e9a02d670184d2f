"""The one kind of error a user can fix: a bad flag or recipe value, a missing file, an unknown
model, unreadable data, a full disk. The scripts print a :class:`UserError` as one line; any other
exception is a bug in this package (or in MXNet) and keeps its traceback.

Each subclass also derives from the builtin a library caller would expect (``ValueError``,
``FileNotFoundError``), so ``except ValueError`` around a library call still catches it."""


# The scripts' exit statuses (docs/scripts.rst): 0 done; 1 a bug (a traceback); 2 a usage error (a flag,
# recipe value or name that cannot work, a file or folder that is not there); 3 the data, disk or run
# failed (unreadable data, a damaged checkpoint or weights file, a full disk, a save dir in use,
# training diverged); 130 interrupted.
USAGE, RUN_FAILED, INTERRUPTED = 2, 3, 130


class UserError(Exception):
    """Something the user can fix; its message says what and how, in its first line. ``status`` is
    the scripts' exit status for it."""
    status = USAGE


class BadInput(UserError, ValueError):
    """A value that cannot work: a flag, a recipe field, a setting, a file's contents."""


class InputNotFound(UserError, FileNotFoundError):
    """A file, folder or data set the user named is not there."""


def reason(err, markers=("Check failed", "Error")):
    """The line of an exception's text that says what went wrong. MXNet's errors carry a C++ stack
    trace in their text; the last line holding one of ``markers`` is the reason."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    marked = [line for line in lines if any(m in line for m in markers) and not line.startswith("Traceback")]
    return marked[-1] if marked else (lines[0] if lines else type(err).__name__)
