"""One module per domain, each registering its work kinds with ``gtcore.work.registry.handler``:
``jobs`` (finishing, intermediate manifests, stopping conditions), ``responses`` (worker-response files),
``maintenance`` (sweeps), ``autolabel`` (automated labeling's train / infer steps), ``viewer`` (the manifest
viewer's index of a large file). Every module here is imported by ``registry.load_handlers()``."""
