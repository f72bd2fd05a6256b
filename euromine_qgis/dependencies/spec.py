"""euromine:installdependencies — onnxruntime into a private folder of the QGIS profile, for the
Python QGIS runs on (the message bar's Install runs the same installer). QGIS only: the
``euromine`` command is installed with pip, onnxruntime with it."""
from __future__ import annotations

from ..core.app.spec import QGIS, AlgorithmSpec, Kind, Outcome, Output, Param, Values
from ..core.archive.packages import ARCHIVE_PINS
from ..core.executor import Executor
from ..core.progress import Reporter
from .install import install_archive, install_onnxruntime
from .plan import ARCHIVE, DEVICES, PACKAGES

CHOSEN_PACKAGES = Param(
    "PACKAGES", Kind.CHOICE, "Packages", choices=PACKAGES, default="onnxruntime",
    help="<code>onnxruntime</code>, which runs the models (the build DEVICE calls for), or <code>archive</code>: "
         f"{' and '.join(p.split('==')[0] for p in ARCHIVE_PINS)}, which the composites "
         "(euromine:composites) search STAC APIs with, and what they need that QGIS's Python lacks "
         "(euromine:composites installs them itself on its first run).")
DEVICE = Param(
    "DEVICE", Kind.CHOICE, "Build for", choices=DEVICES, default="auto",
    help="<code>auto</code> installs onnxruntime-gpu where an NVIDIA GPU is found and its CUDA 13 runtime and "
         "cuDNN 9 are found too (Linux: <code>libcudart.so.13</code> and <code>libcudnn.so.9</code> load; Windows: "
         "<code>cudart64_13.dll</code> and <code>cudnn64_9.dll</code> on <code>PATH</code>), else onnxruntime "
         "(always on macOS); <code>cpu</code> installs onnxruntime; <code>gpu</code> installs onnxruntime-gpu.")
SETTINGS_FOLDER = Param("SETTINGS_FOLDER", Kind.FOLDER, "The QGIS profile's settings folder", surfaces=frozenset(),
                        help="filled in by QGIS: the profile the packages are installed into.")


def run(values: Values, reporter: Reporter, _executor: Executor) -> Outcome:
    """Install the onnxruntime build DEVICE calls for, or the archive packages, into the profile's
    dependencies folder."""
    if values[CHOSEN_PACKAGES.name] == ARCHIVE:
        plan = install_archive(values[SETTINGS_FOLDER.name], reporter)
    else:
        plan = install_onnxruntime(values[DEVICE.name], values[SETTINGS_FOLDER.name], reporter)
    line = f"Installed {' '.join(plan.requirements)} into {plan.folder}; QGIS finds it there from now on."
    return Outcome({"FOLDER": str(plan.folder), "BUILD": plan.build}, [line], plan)


SPEC = AlgorithmSpec(
    id="installdependencies",
    title="Install dependencies (onnxruntime)",
    group="Setup",
    group_id="setup",
    summary="onnxruntime for the Python QGIS runs on, into a private folder of the QGIS profile",
    description=(
        "<p>Installs onnxruntime, which runs the models (or, with PACKAGES <code>archive</code>, the STAC "
        "packages of the composites, in a folder <code>archive-cp312</code> beside it), for the Python QGIS runs "
        "on, into a private folder of your QGIS profile "
        "(<code>python/dependencies/euromine_qgis/onnxruntime-cp312</code> for Python 3.12, one folder per Python "
        "version). QGIS's own packages are never changed: numpy, GDAL and PyQt stay as QGIS "
        "ships them, and nothing is installed into QGIS's site-packages. The plugin finds the folder every time it "
        "loads. The message bar's <b>Install</b> button, shown when onnxruntime is missing, runs this same "
        "installer.</p>"
        "<p>pip downloads the wheels from the package index; its own settings apply (a proxy, or "
        "<code>PIP_INDEX_URL</code>, <code>PIP_FIND_LINKS</code> and <code>PIP_NO_INDEX</code> for a local "
        "wheelhouse). The install is made in a temporary folder and takes the final name only when it is complete "
        "and onnxruntime imports from it, so a failed or cancelled install leaves nothing; the error gives the "
        "command that does the same install by hand. Running it again replaces the folder (restart QGIS "
        "afterwards if onnxruntime was already loaded).</p>"),
    params=(CHOSEN_PACKAGES, DEVICE, SETTINGS_FOLDER),
    outputs=(Output("FOLDER", "folder", "Folder of the installed packages"),
             Output("BUILD", "text", "Installed onnxruntime build (or archive)")),
    results="FOLDER (the folder of the installed packages), BUILD (<code>onnxruntime</code>, "
            "<code>onnxruntime-gpu</code> or <code>archive</code>).",
    example="processing.run('euromine:installdependencies', {'DEVICE': 'cpu'})['FOLDER']",
    run=run,
    surfaces=frozenset({QGIS}),
)
