"""Recording what the checks judged, so that the grader can judge it again in a clean process.

A student controls the kernel that runs the test cells. Inside it they can replace
``autograder.checks`` functions, patch numpy or scikit-learn, or catch and hide a
:class:`~autograder.checks.CheckFailed`; any of these changes the *in-kernel* verdict. This module
is the part of the defence that lives in the checks: while the grader runs a submission it sets
the environment variable ``HEPML_ARTEFACT_DIR`` (:data:`ARTEFACT_DIR_ENV`), and every check call
then writes a record of its inputs to that folder *before* it judges them. The grading pipeline
loads the records (:func:`load_records`) and re-judges each one (:func:`replay`) in a process the
student's code never touched.

How a check is split
    Every check is two steps. ``derive`` runs in the kernel and reduces the student's objects to
    plain data: arrays, numbers, strings (row fingerprints of a split, a scaler's statistics and
    the training set's, a model's outputs on a fixed probe batch, the scores and labels of an AUC).
    ``judge`` is a registered, pure function of that plain data that returns a :class:`Verdict`.
    Only ``judge`` decides; replaying it on the recorded data gives the verdict the clean process
    trusts.

The record
    One record per check call, named by a sequence number that is unique in the folder:
    ``000007-auc_at_least.json`` (check name, sequence number, grading context, the arguments with
    every array replaced by a reference, the names of the arguments that came from the test cell
    (``spec_keys``: thresholds, tolerances, expected values), and the in-kernel verdict) beside
    ``000007-auc_at_least.npz`` (the arrays, read back with ``allow_pickle=False``). The JSON file is
    written first with ``"verdict": null`` and rewritten with the verdict once the check has judged,
    so a kernel that dies or hangs while judging still leaves its inputs. Every file is written to
    a temporary name in the same folder and renamed into place (atomic on POSIX and Windows), so a
    reader never sees half a file.

Pickles
    The records contain no pickle, with one explicit, documented exception: an argument wrapped in
    :class:`Pickled` (today only the model of ``auc_on_unseen(..., record_model=True)``) is written
    with cloudpickle to its own ``.pkl`` file, for a grader that wants to re-score the model itself.
    :func:`load_records` leaves such arguments as :class:`PickledRef` placeholders unless it is
    called with ``allow_pickle=True``: unpickling runs the student's code and belongs in a sandboxed
    process. No judge reads a pickled argument.

Threat model (the checks' part; the pipeline documents the rest), threat: defence
    - Monkeypatching a check, its judge, or the scikit-learn/numpy functions the judge uses:
      the record holds the inputs, and ``replay`` re-judges them with clean code.
    - Catching ``CheckFailed`` or faking a pass: the same; the in-kernel verdict is not trusted.
    - A kernel that dies, hangs or exits while a check runs: the inputs are recorded before
      judging (the record's verdict stays null).
    - A record written with a lowered threshold or tolerance: ``spec_keys`` names the arguments
      that came from the test cell, and the grader passes its own values through
      ``replay(record, overrides=...)``.
    - Deleting records, or replacing a check so that it writes none: the pipeline expects one
      record per check of each test cell (tagged with :func:`set_context`); a missing one
      scores 0.
    - A record that points at files outside its folder: file names in records must be plain
      names. A pickle in a record: not loaded unless ``allow_pickle=True``.
    - Not covered here: patching numpy itself so that ``derive`` computes false plain data (row
      fingerprints, model outputs), or writing forged records by hand. Where it matters, scores on hidden events, the pipeline
      scores artefacts the notebook writes (prediction files, model weights) in a clean
      process.

The records can hold hidden thresholds and hidden labels: the artefact folder is the grader's and
must never be copied into feedback.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ARTEFACT_DIR_ENV",
    "FORMAT",
    "Pickled",
    "PickledRef",
    "Record",
    "Verdict",
    "artefact_dir",
    "decode",
    "encode",
    "load_records",
    "record",
    "set_context",
    "set_verdict",
]

#: The environment variable that switches recording on: the folder the records go to.
ARTEFACT_DIR_ENV = "HEPML_ARTEFACT_DIR"
#: The format tag written into every record.
FORMAT = "hepml-check-record/1"

_ARRAY = "__ndarray__"
_TUPLE = "__tuple__"
_PICKLE = "__pickle__"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_RECORD_RE = re.compile(r"^(\d{6,})-([A-Za-z0-9_]+)\.json$")

_context: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of judging a check: passed or not, and the message for the student.

    Attributes
    ----------
    passed : bool
        True when the answer is accepted.
    message : str
        Empty when passed; otherwise one or two sentences for the student.
    """

    passed: bool
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """The verdict as a JSON-ready dict."""
        return {"passed": bool(self.passed), "message": str(self.message)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        """The verdict written by :meth:`to_json`."""
        return cls(passed=bool(data["passed"]), message=str(data.get("message", "")))


@dataclass(frozen=True)
class Pickled:
    """Wrap an object that must be recorded with cloudpickle (the documented exception).

    Parameters
    ----------
    obj : object
        Anything cloudpickle can serialise, typically a trained model.
    """

    obj: Any


@dataclass(frozen=True)
class PickledRef:
    """A pickled argument that :func:`load_records` did not unpickle.

    Attributes
    ----------
    path : Path
        The ``.pkl`` file; load it (in a sandbox) with ``cloudpickle.load``.
    """

    path: Path


@dataclass(frozen=True)
class Record:
    """One recorded check call, as read back by :func:`load_records`.

    Attributes
    ----------
    seq : int
        Sequence number, unique in its folder, increasing in call order.
    check : str
        Registered name of the check (``"auc_at_least"``).
    arguments : dict
        The plain arguments the judge receives (arrays as ``numpy.ndarray``).
    spec_keys : tuple of str
        The names in ``arguments`` that came from the test cell rather than from the student's
        objects (thresholds, tolerances, expected values).
    verdict : Verdict or None
        The in-kernel verdict; None when the kernel stopped before judging.
    context : str or None
        The grading context set with :func:`set_context` (e.g. the test cell's grade id).
    path : Path
        The record's JSON file.
    extra : dict
        What else the record says about its writer (``pid``: the kernel's process id).
    """

    seq: int
    check: str
    arguments: dict[str, Any]
    spec_keys: tuple[str, ...]
    verdict: Verdict | None
    context: str | None
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        """The arguments that came from the test cell (see ``spec_keys``)."""
        return {k: self.arguments[k] for k in self.spec_keys if k in self.arguments}


def artefact_dir() -> Path | None:
    """The folder records go to, or None when recording is off (``HEPML_ARTEFACT_DIR`` unset)."""
    value = os.environ.get(ARTEFACT_DIR_ENV, "")
    return Path(value) if value else None


def set_context(label: str | None) -> None:
    """Tag the following records with ``label`` (the grader calls this before each test cell).

    Parameters
    ----------
    label : str or None
        Any short text, e.g. the cell's grade id; None clears it.
    """
    global _context
    _context = None if label is None else str(label)


# --------------------------------------------------------------------------------------------
# Encoding plain data: JSON for the structure, one .npz for the arrays, .pkl only for Pickled.


def encode(value: Any, arrays: dict[str, np.ndarray], pickles: dict[str, Any]) -> Any:
    """Turn ``value`` into JSON-ready data, moving arrays into ``arrays`` and Pickled objects into
    ``pickles`` (both filled in place, keyed by the names the JSON refers to).

    Parameters
    ----------
    value : None, bool, int, float, str, numpy scalar or array, list, tuple, dict with str keys,
        or :class:`Pickled`.
    arrays, pickles : dict
        Collectors for the arrays and the pickled objects.

    Returns
    -------
    object
        Data that ``json.dumps`` accepts.

    Raises
    ------
    TypeError
        For anything else (an object array included): records hold plain data only.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return encode(value.item(), arrays, pickles)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("object arrays cannot be recorded as plain data")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {_ARRAY: key}
    if isinstance(value, Pickled):
        key = f"p{len(pickles)}"
        pickles[key] = value.obj
        return {_PICKLE: key}
    if isinstance(value, tuple):
        return {_TUPLE: [encode(v, arrays, pickles) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays, pickles) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"record keys must be strings, found {type(k).__name__}")
            out[k] = encode(v, arrays, pickles)
        return out
    raise TypeError(f"cannot record a {type(value).__name__} as plain data")


def decode(value: Any, arrays: Mapping[str, np.ndarray], pickles: Mapping[str, Any]) -> Any:
    """Invert :func:`encode`, given the loaded arrays and pickled objects (or references)."""
    if isinstance(value, list):
        return [decode(v, arrays, pickles) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((marker, inner),) = value.items()
            if marker == _ARRAY:
                return arrays[inner]
            if marker == _TUPLE:
                return tuple(decode(v, arrays, pickles) for v in inner)
            if marker == _PICKLE:
                return pickles[inner]
        return {k: decode(v, arrays, pickles) for k, v in value.items()}
    return value


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(file_object)`` to a temporary file beside ``path``, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, indent=1, allow_nan=True).encode()
    _atomic_write(path, lambda fh: fh.write(text))


def _claim_seq(folder: Path) -> int:
    """Reserve the next free sequence number in ``folder`` (safe between processes)."""
    used = [-1]
    for p in folder.iterdir():
        m = re.match(r"^\.?(\d{6,})[-.]", p.name)
        if m:
            used.append(int(m.group(1)))
    seq = max(used) + 1
    while True:
        try:
            fd = os.open(folder / f".{seq:06d}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            seq += 1
            continue
        os.close(fd)
        return seq


def record(
    check_name: str,
    arguments: Mapping[str, Any],
    verdict: Verdict | None = None,
    *,
    spec_keys: Sequence[str] = (),
    folder: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Append a record of one check call to the artefact folder.

    Called by every check *before* it judges (``verdict=None``); the check then calls
    :func:`set_verdict` on the returned path.

    Parameters
    ----------
    check_name : str
        The registered name of the check (letters, digits, underscores).
    arguments : mapping of str to plain data
        What the judge receives (see :func:`encode` for what is plain data).
    verdict : Verdict or None
        The in-kernel verdict, when already known.
    spec_keys : sequence of str
        The argument names that came from the test cell (thresholds, expected values).
    folder : path, optional
        Where to write; by default ``$HEPML_ARTEFACT_DIR``.

    Returns
    -------
    Path or None
        The record's JSON file, or None when recording is off.
    """
    target = Path(folder) if folder is not None else artefact_dir()
    if target is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_]+", check_name):
        raise ValueError(f"invalid check name {check_name!r}")
    target.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    pickles: dict[str, Any] = {}
    encoded = encode(dict(arguments), arrays, pickles)
    seq = _claim_seq(target)
    stem = f"{seq:06d}-{check_name}"
    npz_name = None
    if arrays:
        npz_name = f"{stem}.npz"
        _atomic_write(target / npz_name, lambda fh: np.savez(fh, allow_pickle=False, **arrays))
    pkl_names = {}
    if pickles:
        import cloudpickle

        for key, obj in pickles.items():
            pkl_names[key] = f"{stem}-{key}.pkl"
            _atomic_write(target / pkl_names[key], lambda fh, o=obj: cloudpickle.dump(o, fh))
    data = {
        "format": FORMAT,
        "seq": seq,
        "check": check_name,
        "context": _context,
        "pid": os.getpid(),
        "arguments": encoded,
        "spec_keys": [str(k) for k in spec_keys],
        "arrays": npz_name,
        "pickles": pkl_names,
        "verdict": None if verdict is None else verdict.to_json(),
    }
    path = target / f"{stem}.json"
    _write_json(path, data)
    return path


def set_verdict(path: str | os.PathLike[str] | None, verdict: Verdict) -> None:
    """Write the in-kernel ``verdict`` into the record at ``path`` (nothing when path is None)."""
    if path is None:
        return
    path = Path(path)
    data = json.loads(path.read_text())
    data["verdict"] = verdict.to_json()
    _write_json(path, data)


# --------------------------------------------------------------------------------------------
# Reading and replaying.


def _plain_name(name: Any, folder: Path) -> Path:
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in {".", ".."}:
        raise ValueError(f"record refers to an invalid file name {name!r}")
    return folder / name


def load_records(folder: str | os.PathLike[str], *, allow_pickle: bool = False) -> list[Record]:
    """Read every record in ``folder``, in sequence order.

    Parameters
    ----------
    folder : path
        An artefact folder written by :func:`record`.
    allow_pickle : bool
        Unpickle :class:`Pickled` arguments (runs code from the submission: use a sandbox).
        By default they are left as :class:`PickledRef`.

    Returns
    -------
    list of Record

    Raises
    ------
    ValueError
        When a record is malformed (wrong format tag, a file name with a path in it, a pickle in
        the arrays file).
    """
    folder = Path(folder)
    found = []
    for p in folder.iterdir():
        m = _RECORD_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    records = []
    for _seq, path in sorted(found):
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{path.name}: not a check record (format {data.get('format')!r})")
        arrays: dict[str, np.ndarray] = {}
        if data.get("arrays"):
            with np.load(_plain_name(data["arrays"], folder), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        pickles: dict[str, Any] = {}
        for key, name in (data.get("pickles") or {}).items():
            pkl = _plain_name(name, folder)
            if allow_pickle:
                import cloudpickle

                with open(pkl, "rb") as fh:
                    pickles[key] = cloudpickle.load(fh)
            else:
                pickles[key] = PickledRef(pkl)
        verdict = data.get("verdict")
        records.append(
            Record(
                seq=int(data["seq"]),
                check=str(data["check"]),
                arguments=decode(data["arguments"], arrays, pickles),
                spec_keys=tuple(data.get("spec_keys") or ()),
                verdict=None if verdict is None else Verdict.from_json(verdict),
                context=data.get("context"),
                path=path,
                extra={"pid": data.get("pid")},
            )
        )
    return records
