# lambda_function.zip: filled in by the packaging issue.
