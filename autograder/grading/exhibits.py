"""The student's objects a test cell reads, carried from the kernel to the grader's processes.

Before each test cell the grader makes the kernel :func:`export` the names the cell reads (its free
names, from the official source). Each object becomes an **exhibit**:

* **plain data** (numbers, strings, ``None``, lists, tuples, dicts and sets of them, NumPy arrays of
  numbers, strings or booleans, pandas ``DataFrame``/``Series``/``Index``, torch tensors,
  ``torch.device``/``torch.dtype``, NumPy dtypes, fitted scikit-learn estimators whose state is
  plain data, Keras ``History``, ``helpers.data`` file sets) is written as JSON and ``.npy`` files,
  never pickled: reading it back runs no code of the student. Arrays are content-addressed, so the
  same training set read by ten test cells is stored once;
* **modules** (``np``, ``torch``...) by name, imported again from the installation where they are
  read (a module of the student's, which the installation does not have, is code);
* **code**: everything else (functions, ``nn.Module`` and Keras models, data loaders, optimisers,
  instances of the student's classes) is written with cloudpickle. :func:`load` gives an opaque
  :class:`Code` stand-in for it: the clean process never unpickles it; only the sandboxed
  measurement process does (:mod:`autograder.grading.measure`).

The exporting side runs in the student's kernel, so what it writes is the student's claim about
their objects, like anything the kernel says; the point is that *code* is only ever called by the
grader, on inputs the grader chose, in a process that holds no labels, expected values or secrets.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INDEX = "exhibits.json"
#: Arrays larger than this are not exported (the exhibit says why); a guard against a full disk.
MAX_ARRAY_BYTES = 1 << 30
_MAX_DEPTH = 20
_SIMPLE_NUMPY_KINDS = "biufcUSM"


class NeedsMeasurement(BaseException):
    """A :class:`Code` stand-in was used: this computation must run in the measurement process.

    A ``BaseException`` so that a check's ``except Exception`` (which turns a student's error into
    a message) does not swallow it.
    """


class Unexportable(Exception):
    """An object could not be carried to the grader (the message says why)."""


@dataclass(frozen=True)
class Code:
    """The clean process's stand-in for a code object of the student: any use of it raises
    :class:`NeedsMeasurement`; it is passed by reference to the measurement process."""

    name: str
    path: str
    problem: str = ""
    #: Tells the checks' message helpers not to look inside (see ``checks.values._describe``).
    opaque_student_object = True

    def _measure(self, *args: Any, **kwargs: Any) -> Any:
        raise NeedsMeasurement(self.name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        raise NeedsMeasurement(self.name)

    __call__ = __iter__ = __len__ = __getitem__ = __bool__ = __array__ = _measure
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __matmul__ = _measure
    __truediv__ = __rtruediv__ = __lt__ = __le__ = __gt__ = __ge__ = __float__ = _measure
    __int__ = __index__ = __contains__ = __neg__ = __abs__ = _measure

    def __repr__(self) -> str:
        return f"<your {self.name}>"


class Missing:
    """A name the test cell reads that the notebook never defined."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise NameError(f"name {self.name!r} is not defined in your notebook")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        self._raise()

    __call__ = __iter__ = __len__ = __getitem__ = __bool__ = __array__ = _raise
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _raise
    __truediv__ = __lt__ = __le__ = __gt__ = __ge__ = __float__ = __int__ = _raise


class RecordedHistory:
    """A Keras ``History`` as plain data: ``.history`` (dict of lists) and ``.params``."""

    def __init__(self, history: dict, params: dict) -> None:
        self.history = history
        self.params = params

    def __repr__(self) -> str:
        return f"<History {sorted(self.history)}>"


# -- writing (in the kernel) ------------------------------------------------------------------


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _blob(self, data: bytes, suffix: str) -> str:
        name = hashlib.blake2b(data, digest_size=16).hexdigest() + suffix
        target = self.folder / name
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        return name

    def array(self, a: np.ndarray) -> dict:
        a = np.asarray(a)
        if a.dtype.kind not in _SIMPLE_NUMPY_KINDS:
            raise Unexportable(f"an array of {a.dtype} (only numbers, strings and booleans)")
        if a.nbytes > MAX_ARRAY_BYTES:
            raise Unexportable(f"an array of {a.nbytes / 2**20:.0f} MiB (at most 1 GiB)")
        import io

        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
        return {"t": "ndarray", "file": self._blob(buf.getvalue(), ".npy")}

    def value(self, obj: Any, depth: int = 0) -> dict:
        """The JSON tree of a plain-data object; raises :class:`Unexportable` for code."""
        if depth > _MAX_DEPTH:
            raise Unexportable("nested too deeply")
        if obj is None or isinstance(obj, (bool, str)):
            return {"t": "json", "v": obj}
        if isinstance(obj, int) and type(obj) in (int, bool):
            return {"t": "json", "v": obj}
        if type(obj) is float:
            return {"t": "float", "v": repr(obj)}
        if type(obj) is complex:
            return {"t": "complex", "v": [obj.real, obj.imag]}
        if isinstance(obj, np.generic) and type(obj).__module__ == "numpy":
            return {"t": "npscalar", "a": self.array(np.asarray(obj))}
        if type(obj) is np.ndarray:
            return self.array(obj)
        if isinstance(obj, np.dtype):
            return {"t": "npdtype", "v": obj.str}
        if type(obj) in (list, tuple, set, frozenset):
            items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
            return {"t": type(obj).__name__, "v": [self.value(x, depth + 1) for x in items]}
        if type(obj) is dict:
            return {
                "t": "dict",
                "v": [[self.value(k, depth + 1), self.value(v, depth + 1)] for k, v in obj.items()],
            }
        if type(obj) is range:
            return {"t": "range", "v": [obj.start, obj.stop, obj.step]}
        module = type(obj).__module__.split(".")[0]
        if module == "pandas":
            return self._pandas(obj, depth)
        if module == "torch":
            return self._torch(obj)
        if module == "sklearn":
            return self._sklearn(obj, depth)
        if module in ("keras", "tf_keras") and type(obj).__name__ == "History":
            return {
                "t": "history",
                "history": self.value(dict(obj.history), depth + 1),
                "params": self.value(dict(getattr(obj, "params", None) or {}), depth + 1),
            }
        if type(obj).__module__ == "helpers.data.cache" and type(obj).__name__ == "DatasetFiles":
            return {
                "t": "files",
                "files": {str(k): str(v) for k, v in obj.items()},
                "attrs": {
                    key: self.value(getattr(obj, key, None), depth + 1)
                    for key in ("name", "variant", "seed", "events", "reason")
                },
                "directory": str(getattr(obj, "directory", "")),
            }
        if isinstance(obj, os.PathLike) and type(obj).__module__.startswith("pathlib"):
            return {"t": "path", "v": os.fspath(obj)}
        raise Unexportable(f"a {type(obj).__module__}.{type(obj).__qualname__}")

    def _pandas(self, obj: Any, depth: int) -> dict:
        import pandas as pd

        if type(obj) is pd.DataFrame:
            if obj.columns.nlevels != 1:
                raise Unexportable("a DataFrame with several column levels")
            return {
                "t": "dataframe",
                "columns": self.value(list(obj.columns), depth + 1),
                "data": [self._column(obj.iloc[:, i]) for i in range(obj.shape[1])],
                "index": self._index(obj.index, depth),
            }
        if type(obj) is pd.Series:
            return {
                "t": "series",
                "name": self.value(obj.name, depth + 1),
                "data": self._column(obj),
                "index": self._index(obj.index, depth),
            }
        if isinstance(obj, pd.Index) and not isinstance(obj, pd.MultiIndex):
            return self._index(obj, depth)
        raise Unexportable(f"a pandas {type(obj).__name__}")

    def _column(self, col: Any) -> dict:
        values = col.to_numpy()
        if values.dtype.kind == "O":
            return {"t": "list", "v": [self.value(x) for x in values.tolist()]}
        return self.array(values)

    def _index(self, index: Any, depth: int) -> dict:
        import pandas as pd

        if isinstance(index, pd.RangeIndex):
            return {"t": "rangeindex", "v": [index.start, index.stop, index.step]}
        if isinstance(index, pd.MultiIndex):
            raise Unexportable("a pandas MultiIndex")
        return {
            "t": "index",
            "data": self._column(pd.Series(index)),
            "name": self.value(index.name, depth + 1),
        }

    def _torch(self, obj: Any) -> dict:
        import torch

        if type(obj) is torch.Tensor or type(obj) is torch.nn.Parameter:
            t = obj.detach()
            if t.is_sparse or t.is_quantized:
                raise Unexportable("a sparse or quantised tensor")
            dtype = str(t.dtype).removeprefix("torch.")
            host = t.cpu()
            if t.dtype == torch.bfloat16:
                host = host.float()
            return {
                "t": "tensor",
                "a": self.array(host.numpy()),
                "dtype": dtype,
                "device": str(t.device),
                "requires_grad": bool(obj.requires_grad),
            }
        if isinstance(obj, torch.device):
            return {"t": "torchdevice", "v": str(obj)}
        if isinstance(obj, torch.dtype):
            return {"t": "torchdtype", "v": str(obj).removeprefix("torch.")}
        raise Unexportable(f"a torch {type(obj).__name__}")

    def _sklearn(self, obj: Any, depth: int) -> dict:
        cls = type(obj)
        state = getattr(obj, "__dict__", None)
        if not isinstance(state, dict) or not hasattr(obj, "get_params"):
            raise Unexportable(f"a scikit-learn {cls.__name__}")
        return {
            "t": "sklearn",
            "cls": f"{cls.__module__}:{cls.__qualname__}",
            "state": self.value(dict(state), depth + 1),
        }


def _is_module(obj: Any) -> bool:
    return type(obj).__name__ == "module" and hasattr(obj, "__name__")


def export(names: Iterable[str], namespace: Mapping[str, Any], folder: str | os.PathLike) -> None:
    """Write the exhibits of ``names`` from ``namespace`` into ``folder`` (called in the kernel).

    Never raises for a student object: an object that cannot be carried is recorded with the
    reason, and a check that needs it fails with that reason.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out)
    index: dict[str, Any] = {}
    for name in names:
        if name not in namespace:
            index[name] = {"t": "missing"}
            continue
        obj = namespace[name]
        if _is_module(obj):
            index[name] = {"t": "module", "v": obj.__name__}
            continue
        try:
            index[name] = writer.value(obj)
            continue
        except Unexportable:
            pass
        except Exception as exc:  # a student's object that breaks while being read
            index[name] = {"t": "code", "problem": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        index[name] = _code_entry(writer, obj)
    text = json.dumps(index)
    tmp = out / (INDEX + ".part")
    tmp.write_text(text)
    os.replace(tmp, out / INDEX)


def _code_entry(writer: _Writer, obj: Any) -> dict:
    try:
        import cloudpickle

        data = cloudpickle.dumps(obj)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return {"t": "code", "problem": f"{type(exc).__name__}: {exc}"[:300]}
    return {"t": "code", "file": writer._blob(data, ".pkl")}


def export_snippet(names: Iterable[str], folder: str | os.PathLike) -> str:
    """The code the grader runs in the kernel before a test cell (one line, no output)."""
    return (
        "__import__('autograder.grading.exhibits', fromlist=['export']).export("
        f"{sorted(set(names))!r}, globals(), {os.fspath(folder)!r})"
    )


# -- reading (in the clean process) -----------------------------------------------------------


class _Reader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, name: str) -> Path:
        path = (self.folder / name).resolve()
        if path.parent != self.folder.resolve() or not path.is_file():
            raise ValueError(f"an exhibit names a file that is not there: {name!r}")
        return path

    def array(self, node: dict) -> np.ndarray:
        return np.load(self._file(node["file"]), allow_pickle=False)

    def value(self, node: dict) -> Any:
        t = node["t"]
        if t == "json":
            return node["v"]
        if t == "float":
            return float(node["v"])
        if t == "complex":
            return complex(*node["v"])
        if t == "npscalar":
            return self.array(node["a"])[()]
        if t == "ndarray":
            return self.array(node)
        if t == "npdtype":
            return np.dtype(node["v"])
        if t in ("list", "tuple", "set", "frozenset"):
            items = [self.value(x) for x in node["v"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[t](items)
        if t == "dict":
            return {self.value(k): self.value(v) for k, v in node["v"]}
        if t == "range":
            return range(*node["v"])
        if t == "path":
            return Path(node["v"])
        if t in ("dataframe", "series", "index", "rangeindex"):
            return self._pandas(node)
        if t == "tensor":
            import torch

            a = torch.from_numpy(np.array(self.array(node["a"])))
            a = a.to(getattr(torch, node["dtype"]))
            if node["device"] != "cpu" and _device_available(node["device"]):
                a = a.to(node["device"])
            return a.requires_grad_(node["requires_grad"]) if a.is_floating_point() else a
        if t == "torchdevice":
            import torch

            return torch.device(node["v"])
        if t == "torchdtype":
            import torch

            return getattr(torch, node["v"])
        if t == "sklearn":
            module, _, qualname = node["cls"].partition(":")
            if module.split(".")[0] != "sklearn":
                raise ValueError(f"not a scikit-learn class: {node['cls']}")
            cls: Any = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
            obj = cls.__new__(cls)
            obj.__dict__.update(self.value(node["state"]))
            return obj
        if t == "history":
            return RecordedHistory(self.value(node["history"]), self.value(node["params"]))
        if t == "files":
            from helpers.data.cache import DatasetFiles

            attrs = {k: self.value(v) for k, v in node["attrs"].items()}
            return DatasetFiles(
                node["files"],
                name=attrs.get("name") or "",
                variant=attrs.get("variant") or "real",
                directory=node.get("directory") or ".",
                seed=attrs.get("seed"),
                events=attrs.get("events"),
                reason=attrs.get("reason") or "",
            )
        raise ValueError(f"unknown exhibit type {t!r}")

    def _pandas(self, node: dict) -> Any:
        import pandas as pd

        t = node["t"]
        if t == "rangeindex":
            return pd.RangeIndex(*node["v"])
        if t == "index":
            return pd.Index(self.value(node["data"]), name=self.value(node["name"]))
        index = self._pandas(node["index"])
        if t == "series":
            return pd.Series(self.value(node["data"]), index=index, name=self.value(node["name"]))
        columns = self.value(node["columns"])
        data = {i: self.value(col) for i, col in enumerate(node["data"])}
        frame = pd.DataFrame(data, index=index)
        frame.columns = pd.Index(columns)
        return frame


def _device_available(device: str) -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if device.startswith("cuda"):
        return bool(torch.cuda.is_available())
    if device.startswith("mps"):
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return False


def load(folder: str | os.PathLike) -> dict[str, Any]:
    """The exhibits of ``folder`` as objects: plain data real, code as :class:`Code`, names the
    notebook never defined as :class:`Missing`. No code of the student runs here."""
    root = Path(folder)
    index = json.loads((root / INDEX).read_text())
    reader = _Reader(root)
    objects: dict[str, Any] = {}
    for name, node in index.items():
        t = node.get("t")
        if t == "missing":
            objects[name] = Missing(name)
        elif t == "module":
            try:
                objects[name] = importlib.import_module(node["v"])
            except ImportError:
                objects[name] = Code(name, "", f"the module {node['v']} is not installed")
        elif t == "code":
            path = str(reader._file(node["file"])) if node.get("file") else ""
            objects[name] = Code(name, path, node.get("problem", ""))
        else:
            objects[name] = reader.value(node)
    return objects
