"""Label: the annotator works through the tasks of one job (the flow is ``gtcore.ui.label_flow``)."""

from gtcore.ui.label_flow import label_page

label_page()
