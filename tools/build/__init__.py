"""Build tools: the Lambda artifacts (``lambda_artifact``) and the offline SAM translation (``sam_translate``)."""
