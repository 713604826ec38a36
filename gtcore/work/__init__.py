"""Background work: the runner that claims ``work_items`` and runs their handlers, the handler registry, and one
handler module per domain (``handlers/``): job finishing and output files, worker-response files, maintenance
sweeps, automated labeling's steps.

Its own layer right below ``gtcore.cli | gtcore.ui`` (so the CLI runs ``gtcore worker`` and the UI starts the
embedded worker and shows the queue) and above every domain package, whose heavy work the handlers call.
Never imports Streamlit or boto3.
"""
