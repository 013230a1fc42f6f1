"""Benchmark: ``cvm batch`` against the plain way, and against the floor.

Three runs of the per-customer report on the same synthetic study of 40
customers (``cvm_kit.synthetic.write_random_study(n_customers=40,
n_elements=6, seed=0)``), one run each:

1. **plain**: a shell loop of the ``papermill`` CLI, one customer after the
   other (``papermill 06_customer_report.ipynb out/C.ipynb -p study S -p
   customer_id C -p interactive False``), notebooks only, no HTML;
2. **batch**: :func:`cvm_kit.runs.run_batch` with 2 workers (notebook and
   HTML per customer, ``force=True``);
3. **floor**: the same runner on a notebook that only imports what the
   customer report imports (its parameters cell, then every module its
   cells import, found by running them in an in-process kernel; nothing
   computed or shown).

Targets: batch at least 2x faster than plain; batch per notebook within
1.3x of the floor per notebook.

Usage::

    python benchmarks/bench_batch.py [--customers 40] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _study(base: Path, n: int) -> Path:
    try:
        from cvm_kit.synthetic import write_random_study
    except ImportError:  # pragma: no cover - the synthetic module is absent in this build
        write_random_study = None
    out = base / "study"
    if write_random_study is not None:
        return Path(write_random_study(out, n_customers=n, n_elements=6, seed=0))
    import cvm_kit

    shutil.copytree(cvm_kit.example_path(), out)
    return out


def _report_imports(study: Path, customer: str) -> list[str]:
    """Every module the customer report imports, found by running its code in an IPython shell.

    The modules present in a bare shell are left out (the kernel has them
    before any cell runs); what remains is what the report's cells import,
    directly or not (cvm_kit, pandas, matplotlib, PIL ...).
    """
    import nbformat

    from cvm_kit.runs import CUSTOMER_NOTEBOOK, template_path

    nb = nbformat.read(template_path(CUSTOMER_NOTEBOOK), as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    cells.insert(1, f"study = {str(study)!r}\ncustomer_id = {customer!r}\ninteractive = False")
    code = ("import json, sys\nfrom ipykernel.inprocess.manager import InProcessKernelManager\n"
            "km = InProcessKernelManager(); km.start_kernel(); shell = km.kernel.shell\n"
            "before = set(sys.modules)\n"
            f"for src in {cells!r}:\n    assert shell.run_cell(src).success, src\n"
            "print('MODULES=' + json.dumps(sorted(m for m in set(sys.modules) - before)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"running the report's code failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MODULES=")][-1]
    return json.loads(line[len("MODULES="):])


def _floor_notebook(path: Path, modules: list[str]) -> Path:
    """The report's parameters cell, then one cell importing every module the report imports."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from cvm_kit.runs import CUSTOMER_NOTEBOOK, template_path

    report = nbformat.read(template_path(CUSTOMER_NOTEBOOK), as_version=4)
    params = report.cells[0]
    src = ("%matplotlib inline\nimport importlib\n"
           f"for _name in {modules!r}:\n"
           "    try:\n        importlib.import_module(_name)\n"
           "    except Exception:  # a module that only imports inside its package\n        pass\n")
    nb = new_notebook(cells=[new_code_cell(params.source, metadata={"tags": ["parameters"]}),
                             new_code_cell(src)])
    nb.metadata = report.metadata
    nbformat.write(nb, path)
    return path


def _plain(study: Path, ids: list[str], out: Path) -> float:
    from cvm_kit.runs import CUSTOMER_NOTEBOOK, template_path

    out.mkdir(parents=True, exist_ok=True)
    tpl = template_path(CUSTOMER_NOTEBOOK)
    ids_file = out / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    script = (f"while read -r c; do {shlex.quote(str(VENV_BIN / 'papermill'))} --no-progress-bar --log-level ERROR "
              f"{shlex.quote(str(tpl))} {shlex.quote(str(out))}/\"$c\".ipynb -p study {shlex.quote(str(study))} "
              f"-p customer_id \"$c\" -p interactive False || exit 1; done < {shlex.quote(str(ids_file))}")
    t0 = time.perf_counter()
    subprocess.run(["bash", "-c", script], check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    args = ap.parse_args(argv)

    from cvm_kit.runs import run_batch
    from cvm_kit.study import load_study

    base = Path(tempfile.mkdtemp(prefix="bench_batch."))
    try:
        study = _study(base, args.customers)
        ids = [str(c) for c in load_study(study).customers["customer_id"]][: args.customers]
        n = len(ids)
        modules = _report_imports(study, ids[0])
        floor_tpl = _floor_notebook(base / "floor.ipynb", modules)
        print(f"study {study} ({n} customers); the report imports {len(modules)} modules "
              f"({sum(m.startswith('cvm_kit') for m in modules)} of cvm_kit)", flush=True)

        plain = _plain(study, ids, base / "plain")
        print(f"plain papermill loop: {plain:.1f} s ({plain / n:.2f} s per notebook)", flush=True)

        t0 = time.perf_counter()
        batch = run_batch(study, ids, workers=args.workers, force=True, out_dir=base / "batch", progress=False)
        t_batch = time.perf_counter() - t0
        if batch.failed:
            print(batch.summary(), file=sys.stderr)
            return 1
        print(f"cvm batch, {args.workers} workers: {t_batch:.1f} s ({t_batch / n:.2f} s per notebook, "
              f"{sum(r.seconds for r in batch.runs) / n:.2f} s per notebook in a worker)", flush=True)

        t0 = time.perf_counter()
        floor = run_batch(study, ids, workers=args.workers, force=True, out_dir=base / "floor", template=floor_tpl,
                          progress=False)
        t_floor = time.perf_counter() - t0
        if floor.failed:
            print(floor.summary(), file=sys.stderr)
            return 1
        print(f"floor (imports only), same runner: {t_floor:.1f} s ({t_floor / n:.2f} s per notebook, "
              f"{sum(r.seconds for r in floor.runs) / n:.2f} s per notebook in a worker)", flush=True)

        figures = {
            "customers": n, "workers": args.workers, "cpus": os.cpu_count(),
            "load_average": os.getloadavg()[0],
            "plain_s": plain, "batch_s": t_batch, "floor_s": t_floor,
            "speedup_vs_plain": plain / t_batch, "batch_vs_floor": t_batch / t_floor,
            "plain_per_nb_s": plain / n, "batch_per_nb_s": t_batch / n, "floor_per_nb_s": t_floor / n,
            "batch_worker_per_nb_s": sum(r.seconds for r in batch.runs) / n,
            "floor_worker_per_nb_s": sum(r.seconds for r in floor.runs) / n,
        }
        print(f"speed-up over the plain way: {figures['speedup_vs_plain']:.2f}x (target >= 2x)")
        print(f"per notebook against the floor: {figures['batch_vs_floor']:.2f}x (target <= 1.3x)")
        print(f"(load average during the run: {figures['load_average']:.1f} on {os.cpu_count()} CPUs)")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
        return 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
