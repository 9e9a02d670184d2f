"""gluon_tricks: Bag-of-Tricks image classification on MXNet Gluon."""
import json
import os
import re
import shutil

from setuptools import Extension, find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "gluon_tricks", "__init__.py")) as f:
    VERSION = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)


class build_py_with_weights(build_py):
    """Also copies the weights this repository publishes (model_zoo/<name>/<name>.params, the
    manifest's entries not from GluonCV) into the package as gluon_tricks/zoo/published/, so an
    installed wheel loads them with no checkout and no network."""

    def run(self):
        super().run()
        with open(os.path.join(HERE, "gluon_tricks", "zoo", "manifest.json")) as f:
            ours = [e for e in json.load(f)["models"] if e["source"] != "gluoncv"]
        out = os.path.join(self.build_lib, "gluon_tricks", "zoo", "published")
        os.makedirs(out, exist_ok=True)
        for e in ours:
            name = e["name"] + ".params"
            shutil.copyfile(os.path.join(HERE, e["source"], name), os.path.join(out, name))

ONNX = ["onnx", "onnxruntime"]  # export.py's ONNX file and its --check

setup(
    name="gluon_tricks",
    version=VERSION,
    description="Bag of Tricks for Image Classification on MXNet Gluon: ResNet-B/C/D, "
                "trainer with warmup/cosine/label smoothing/mixup/distillation, model zoo",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["gluon_tricks", "gluon_tricks.*"]),
    package_data={"gluon_tricks.zoo": ["manifest.json", "imagenet_classes.txt"]},
    cmdclass={"build_py": build_py_with_weights},
    # Region decoding for the data loader; needs libjpeg-turbo's headers (Debian: libjpeg62-turbo-dev).
    # Optional: without them the build goes on and the loader decodes whole images with OpenCV.
    ext_modules=[Extension("gluon_tricks.data._jpeg", ["gluon_tricks/data/_jpeg.c"], libraries=["jpeg"],
                           extra_compile_args=["-O2"], optional=True)],
    python_requires=">=3.11",
    # The scripts users run most, as commands; `python scripts/<name>.py` runs the same code.
    entry_points={"console_scripts": ["gt-%s = gluon_tricks.cli.%s:main.command" % (name.replace("_", "-"), name)
                                      for name in ("train_imagenet", "train_cifar", "evaluate", "classify", "export",
                                                   "benchmark", "ablate", "pack", "zoo")]
                  + ["gt-launch = gluon_tricks.cli.launch:main", "gt-horovodrun = gluon_tricks.cli.launch:horovodrun"]},
    # MXNet itself is an extra: the CPU and CUDA wheels are different distributions.
    install_requires=[
        # MXNet 1.9.1 declares numpy<2; overrides.txt lifts that for uv, and gluon_tricks restores
        # the numpy names it reads (gluon_tricks/numpy_names.py).
        "numpy>=1.23",
        "setuptools; python_version>='3.12'",  # MXNet and GluonCV import distutils, which it provides
        "gluoncv>=0.10.5",     # builds GluonCV's own networks behind get_model (models/gluoncv_built.py)
        "opencv-python",
        "matplotlib",
        "tqdm",
        "pyyaml",
    ],
    extras_require={
        "cpu": ["mxnet==1.9.1"],
        "cu112": ["mxnet-cu112==1.9.1"],
        "onnx": ONNX,
        "tensorboard": ["tensorboard"],  # to view the event files every run writes (no dependency to write them)
        "test": ["pytest>=7", "pytest-timeout", "tensorboard", "wheel"] + ONNX,  # wheel: test_wheel builds one
        "docs": ["sphinx==8.2.3", "sphinx-gallery==0.19.0", "furo==2024.8.6"] + ONNX,  # the tutorials export to ONNX
    },
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
