"""Object storage: URIs and their safety rules, the local-folder and S3 backends behind one interface.
The only package that imports boto3/botocore.

Imports: gtcore.core.
"""
