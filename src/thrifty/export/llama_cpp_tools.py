"""llama.cpp's own converters (convert_hf_to_gguf.py, convert_lora_to_gguf.py and their gguf-py), taken from
the llama-cpp-python source distribution of the installed version, cached once, and run as subprocesses.

The installed wheel ships only the compiled library; the converter scripts and the gguf-py package they
need (newer than PyPI's `gguf`) live in the sdist under vendor/llama.cpp. `make setup` fills the cache
(`thrifty export --fetch-tools`); otherwise the first export fetches it (pip's HTTP cache makes repeats cheap).
"""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from thrifty.errors import UserError

PACKAGE = "llama-cpp-python"
# What is taken from vendor/llama.cpp/ in the sdist; everything else (C++ sources, tests) is left there.
WANTED = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/", "LICENSE")
READY = "thrifty-tools.txt"  # written last: a folder without it is an interrupted fetch
SUPPORTED = "supported-models.txt"
MISSING_LLAMA_CPP = (
    f"GGUF export needs {PACKAGE}, which is not installed: pip install 'thrifty[export]' "
    "(compiles llama.cpp, ~6 min once)"
)


def llama_cpp_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        raise UserError(MISSING_LLAMA_CPP) from None


def tools_dir() -> Path:
    """$THRIFTY_LLAMA_CPP_TOOLS, else <venv>/share/thrifty/llama.cpp-<version> (beside the library it matches)."""
    override = os.environ.get("THRIFTY_LLAMA_CPP_TOOLS")
    if override:
        return Path(override).expanduser()
    return Path(sys.prefix) / "share" / "thrifty" / f"llama.cpp-{llama_cpp_version()}"


def ensure_tools(progress: bool = True) -> Path:
    folder = tools_dir()
    if not (folder / READY).is_file():
        fetch_tools(folder, progress)
    return folder


def fetch_tools(folder: Path, progress: bool = True) -> Path:
    """Download the sdist of the installed llama-cpp-python with pip and extract only the converters."""
    ver = llama_cpp_version()
    if progress:
        print(
            f"fetching llama.cpp's converters from the {PACKAGE}=={ver} sdist into {folder} (once) ...",
            file=sys.stderr,
        )
    partial = folder.with_name(folder.name + ".partial")
    try:
        partial.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create {folder} ({exc.strerror}); set THRIFTY_LLAMA_CPP_TOOLS to a writable folder"
        ) from None
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        cmd += [f"{PACKAGE}=={ver}", "-d", tmp]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise UserError(
                f"could not download the {PACKAGE}=={ver} source distribution from PyPI (see pip's message)"
            )
        archive = next(Path(tmp).glob("*.tar.gz"))
        _extract(archive, partial)
    (partial / SUPPORTED).write_text("\n".join(_list_supported(partial)) + "\n", encoding="utf-8")
    (partial / READY).write_text(f"{PACKAGE}=={ver}\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def _extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            _, _, rel = member.name.partition("/vendor/llama.cpp/")
            if not rel or not any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in WANTED):
                continue
            if not (member.isfile() or member.isdir()):
                continue  # no links out of the tools folder
            member.name = rel
            tar.extract(member, dest, filter="data")


def _list_supported(folder: Path) -> list[str]:
    result = run_script(folder, "convert_hf_to_gguf.py", ["--print-supported-models"])
    out = result.stdout + result.stderr  # the list is logged, which goes to stderr
    return sorted({line.strip()[2:] for line in out.splitlines() if line.strip().startswith("- ")})


def supported_architectures() -> list[str]:
    return (ensure_tools() / SUPPORTED).read_text(encoding="utf-8").split()


def run_script(folder: Path, script: str, args: list[str]) -> subprocess.CompletedProcess:
    """Run one converter with an argument list (never a shell string), the vendored gguf-py first on the path."""
    env = dict(os.environ)
    env.pop("NO_LOCAL_GGUF", None)  # that variable would make the script skip its own gguf-py
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(folder / "gguf-py"), str(folder), env.get("PYTHONPATH")])
    )
    result = subprocess.run(
        [sys.executable, str(folder / script), *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"llama.cpp {script} failed (exit {result.returncode}):\n{tail}")
    return result


def cpu_has_amx() -> bool:
    """True when Linux reports Intel AMX (amx_int8), the CPUs on which llama.cpp picks its AMX kernels."""
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def open_gguf(path: Path | str, **kwargs):
    """`llama_cpp.Llama` on a GGUF file, safe on AMX CPUs.

    llama.cpp routes q8_0/q4_k_m matrix products to its AMX kernels through an "extra buffer type"; on an
    AMX Xeon VM (2026-12-02, llama-cpp-python 0.3.36) `ggml_backend_amx_mul_mat` segfaulted on the first
    decode of every quantized SmolLM2 file, while f16 (no AMX path) ran. Loading with extra buffer types
    off keeps llama.cpp on its ordinary AVX-512 kernels there; other CPUs load unchanged.
    """
    from llama_cpp import Llama
    from llama_cpp import llama_cpp as lib

    if not cpu_has_amx():
        return Llama(model_path=str(path), **kwargs)
    default_params = lib.llama_model_default_params

    def without_extra_buffers():
        params = default_params()
        params.use_extra_bufts = False
        return params

    # Llama() reads its model params from this function and exposes no argument for the field.
    lib.llama_model_default_params = without_extra_buffers
    try:
        return Llama(model_path=str(path), **kwargs)
    finally:
        lib.llama_model_default_params = default_params
