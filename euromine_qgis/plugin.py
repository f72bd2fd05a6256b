"""The plugin object QGIS loads: it puts the installer's folder on ``sys.path``, registers the
EuroMine Processing provider and says, once, what is missing from QGIS's Python and how to fix it;
where onnxruntime is missing, the message bar offers Install."""
from __future__ import annotations

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsTask
from qgis.gui import QgsMessageBar, QgsMessageBarItem
from qgis.PyQt.QtWidgets import QProgressBar, QPushButton

from .algorithms.translation import tr
from .core.progress import Reporter
from .dependencies.install import activate_installed, install_onnxruntime
from .dependencies.plan import Plan
from .environment import GPU, Problem
from .provider import EuroMineProvider


class EuroMinePlugin:
    """Registers the provider for the desktop and for qgis_process (initProcessing)."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: EuroMineProvider | None = None
        self.task: QgsTask | None = None  # the running install, kept alive while it runs
        activate_installed(QgsApplication.qgisSettingsDirPath())

    def initProcessing(self) -> None:
        if self.provider is None:
            self.provider = EuroMineProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)
            self._report_problems()

    def initGui(self) -> None:
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    def _report_problems(self) -> None:
        """In the message log (qgis_process prints it on stderr) and the desktop's message bar."""
        for problem in self.provider.problems:
            level = Qgis.MessageLevel.Warning if problem.affects == GPU else Qgis.MessageLevel.Critical
            text = tr("EuroMine plugin: {problem}").format(problem=problem.message())
            QgsMessageLog.logMessage(text, "EuroMine", level)
            if self.iface is not None:
                self.offer(self.iface.messageBar(), problem, level)

    def offer(self, bar: QgsMessageBar, problem: Problem, level: Qgis.MessageLevel) -> QgsMessageBarItem:
        """Show ``problem`` in ``bar``, with an Install button where the installer fixes it."""
        item = bar.createMessage("EuroMine", problem.message())
        if problem.installable:
            button = QPushButton(tr("Install"), item)
            button.clicked.connect(lambda: self.install(bar, item))
            item.layout().addWidget(button)
        bar.pushWidget(item, level, 0)
        return item

    def install(self, bar: QgsMessageBar, offer: QgsMessageBarItem | None = None) -> QgsTask:
        """Run the installer (DEVICE=auto) as a background task, its progress in ``bar``; on success the
        provider loads the algorithms that run a model, on failure the bar shows why and the manual command."""
        if offer is not None:
            bar.popWidget(offer)
        item = bar.createMessage("EuroMine", tr("Installing onnxruntime…"))
        progress = QProgressBar(item)
        progress.setRange(0, 100)
        item.layout().addWidget(progress)
        bar.pushWidget(item, Qgis.MessageLevel.Info, 0)
        settings = QgsApplication.qgisSettingsDirPath()

        def run(task: QgsTask) -> Plan:
            reporter = Reporter(progress=task.setProgress, is_canceled=task.isCanceled)
            return install_onnxruntime("auto", settings, reporter)

        def finished(exception: BaseException | None, plan: Plan | None = None) -> None:
            self.task = None
            bar.popWidget(item)
            if exception is not None or plan is None:
                bar.pushMessage("EuroMine", tr("The install failed: {error}").format(error=exception),
                                Qgis.MessageLevel.Critical, 0)
                return
            if self.provider is not None:
                self.provider.recheck()
            bar.pushMessage("EuroMine", tr("Installed {requirements} into {folder}.").format(
                requirements=" ".join(plan.requirements), folder=str(plan.folder)), Qgis.MessageLevel.Success, 0)

        self.task = QgsTask.fromFunction(tr("Installing EuroMine's dependencies"), run, on_finished=finished)
        self.task.progressChanged.connect(lambda value: progress.setValue(int(value)))
        QgsApplication.taskManager().addTask(self.task)
        return self.task
