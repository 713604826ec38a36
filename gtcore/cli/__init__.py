"""The ``gtcore`` command and its subcommands (AWS CLI spellings for jobs).

Imports: any domain package; never gtcore.ui or Streamlit.
"""
