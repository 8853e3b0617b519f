"""The shipped configs: plain YAML data, no code. This file only makes the folder the package
``seqlabel.configs`` once installed, so that ``seqlabel train fsdd`` finds ``fsdd.yaml`` from any working
directory (``seqlabel.config.shipped``). The first comment line of each YAML is its one-line
description and a ``# prepare: seqlabel prepare ...`` line names the command that writes its manifests."""
