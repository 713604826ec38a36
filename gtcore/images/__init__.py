"""Images: safe decoding (pixel limits, EXIF orientation, no SVG), drawing boxes in class colours, the
display JPEGs of tasks with their cache and prefetch.

Imports: gtcore.queue and everything below it.
"""
