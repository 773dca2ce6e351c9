"""Ships ``s3prl_fusion.pth`` into site-packages and the task configs into the package; the rest is setup.cfg."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
PTH_FILE = "s3prl_fusion.pth"
CONFIGS = "downstream_configs"


class BuildPyWithPth(build_py):
    """Puts the .pth at the wheel's root, which pip installs into site-packages.

    An editable (PEP 660) wheel is assembled from the ``install`` command's ``install_lib``,
    a regular one from ``build_lib``; non-editable installs also carry the task configs.
    """

    def run(self):
        super().run()
        if self.editable_mode:
            wheel_root = Path(self.get_finalized_command("install").install_lib)
        else:
            wheel_root = Path(self.build_lib)
            self.copy_tree(str(ROOT / CONFIGS), str(wheel_root / "s3prl_fusion" / CONFIGS))
        self.copy_file(str(ROOT / PTH_FILE), str(wheel_root / PTH_FILE))


setup(cmdclass={"build_py": BuildPyWithPth})
